"""The one mapping from errors to RFC 9457 problem+json answers."""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from hub.domain.errors import HubError, UpstreamUnavailable

logger = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, code: str, **extra: object) -> Response:
    """A problem+json response."""
    body = {
        "type": f"https://calhub.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM)


def register_error_handlers(app: Flask) -> None:
    """Map HubError, HTTP errors and anything unexpected to problem+json, once."""

    @app.errorhandler(HubError)
    def _hub_error(e: HubError) -> Response:
        resp = problem(
            e.status,
            e.title,
            e.message,
            e.code,
            **{k: v for k, v in e.extra.items() if isinstance(v, str | int | list)},
        )
        if isinstance(e, UpstreamUnavailable) and e.retry_after:
            resp.headers["Retry-After"] = str(int(e.retry_after))
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        detail = e.description or e.name
        if e.code == 413:
            detail = "the request body is too large"
        elif e.code == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        elif e.code == 404:
            detail = f"there is no endpoint at {request.path}"
        return problem(e.code or 500, e.name, detail, e.name.lower().replace(" ", "_"))

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500,
            "Internal Server Error",
            "calhub hit an unexpected error; nothing was changed. The error is logged.",
            "internal_error",
        )
