"""A fault-injecting reverse proxy: puts :class:`FakeServer`'s 500/429/timeout knobs in front of a
real server (a stock Radicale for remote CalDAV), forwarding everything else untouched."""

from __future__ import annotations

import requests
from flask import Response, request

from tests.fakes.base import FakeServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
}
METHODS = [
    "GET",
    "HEAD",
    "PUT",
    "POST",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "REPORT",
    "MKCOL",
    "MKCALENDAR",
    "MOVE",
    "COPY",
]


class FaultProxy(FakeServer):
    """Forwards to ``target``; injected faults answer (or hang) instead."""

    def __init__(self, target: str) -> None:
        super().__init__("fault-proxy")
        self.target = target.rstrip("/")
        self.upstream = requests.Session()

        @self.app.route("/", defaults={"path": ""}, methods=METHODS)
        @self.app.route("/<path:path>", methods=METHODS)
        def forward(path: str) -> Response:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            up = self.upstream.request(
                request.method,
                f"{self.target}/{path}",
                params=request.args,
                data=request.get_data(),
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
            out = Response(up.content, status=up.status_code)
            for k, v in up.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    out.headers[k] = v
            return out

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        return Response(f"injected {status}", status=status, content_type="text/plain")
