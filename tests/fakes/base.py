"""Shared plumbing for provider simulators: a threaded real HTTP server, fault injection, OAuth.

A simulator is a Flask app wrapped by :class:`FakeServer`. Every request passes through
:meth:`FakeServer.dispatch`, which applies injected faults before (500, 429 + Retry-After) or
after (a "timeout": the change is applied, then the answer is withheld past the client's read
timeout — the nastiest case for idempotency) the real handler runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.support import free_port

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class QuietHandler(WSGIRequestHandler):
    """No access log, and Nagle off so small answers are not held back waiting for ACKs."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Faults:
    """What share of calls fail, and how; plus a queue of scripted one-off failures."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "429", "timeout")
    retry_after: float = 1.0
    hang_seconds: float = 1.0  # how long a "timeout" withholds its answer
    seed: int | None = None
    scripted: list[tuple[str, float | None, str | None]] = field(default_factory=list)
    injected: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # injected faults per kind
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def pick(self, method: str = "") -> tuple[str, float | None] | None:
        """The fault for this call, if any."""
        if self.scripted and self.scripted[0][2] in (None, method):
            self.injected += 1
            kind, retry_after, _m = self.scripted.pop(0)
            self.by_kind[kind] += 1
            return kind, retry_after
        if self.rate and self._rng.random() < self.rate:
            self.injected += 1
            kind = self._rng.choice(self.kinds)
            self.by_kind[kind] += 1
            return kind, self.retry_after
        return None


class OAuthTokens:
    """An OAuth 2 token endpoint's state: issued access tokens, refresh tokens, revocation."""

    def __init__(self, client_id: str = "client-1", client_secret: str = "secret-1") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access: dict[str, float] = {}  # token -> expiry (epoch)
        self.refresh_tokens: set[str] = set()
        self.revoked = False
        self.refreshes = 0
        self.codes: dict[str, dict[str, str]] = {}  # authorization code -> redirect, challenge
        self.lock = threading.Lock()

    def authorize(self, args: dict[str, str]) -> tuple[int, str]:
        """An auto-consenting authorize endpoint (PKCE S256 required): (302, where) or (400, why)."""
        if args.get("response_type") != "code" or args.get("client_id") != self.client_id:
            return 400, "invalid_client or response_type"
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return 400, "PKCE with S256 is required"
        if not args.get("redirect_uri"):
            return 400, "redirect_uri is required"
        code = "code-" + secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {
                "redirect_uri": args["redirect_uri"],
                "challenge": args["code_challenge"],
            }
        query = urlencode({"code": code, "state": args.get("state", "")})
        return 302, f"{args['redirect_uri']}?{query}"

    def _exchange(self, form: dict[str, str], lifetime: float) -> tuple[int, dict[str, Any]]:
        with self.lock:
            entry = self.codes.pop(form.get("code", ""), None)
        if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
        verifier = form.get("code_verifier", "").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if not hmac.compare_digest(digest, entry["challenge"]):
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        grant = self.issue(lifetime)
        with self.lock:
            self.revoked = False  # the user consented again
        return 200, {
            "access_token": grant["accessToken"],
            "refresh_token": grant["refreshToken"],
            "token_type": "Bearer",
            "expires_in": int(lifetime),
        }

    def issue(self, lifetime: float = 3600.0) -> dict[str, Any]:
        """A fresh grant as a client would store it after connecting."""
        access = "at-" + secrets.token_urlsafe(12)
        refresh = "rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.access[access] = time.time() + lifetime
            self.refresh_tokens.add(refresh)
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": int(time.time() + lifetime),
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
        }

    def expire_all(self) -> None:
        """Make every issued access token expired (the next API call answers 401)."""
        with self.lock:
            for token in self.access:
                self.access[token] = 0.0

    def revoke(self) -> None:
        """The user revoked the app: refresh answers invalid_grant, access tokens stop working."""
        with self.lock:
            self.revoked = True
            self.access.clear()
            self.refresh_tokens.clear()

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a live access token."""
        with self.lock:
            return bool(token) and self.access.get(token or "", 0.0) > time.time()

    def refresh(
        self, form: dict[str, str], rotate: bool = True, lifetime: float = 3600.0
    ) -> tuple[int, dict[str, Any]]:
        """Answer a refresh_token (or authorization_code) grant: (status, json body), RFC 6749 §5."""
        if form.get("grant_type") not in ("refresh_token", "authorization_code"):
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        if form["grant_type"] == "authorization_code":
            return self._exchange(form, lifetime)
        with self.lock:
            rt = form.get("refresh_token", "")
            if self.revoked or rt not in self.refresh_tokens:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "The refresh token was revoked or has expired.",
                }
            self.refreshes += 1
            access = "at-" + secrets.token_urlsafe(12)
            self.access[access] = time.time() + lifetime
            body: dict[str, Any] = {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(lifetime),
            }
            if rotate:
                # Microsoft hands out a new refresh token each time; the old one keeps
                # working until it expires (so concurrent refreshes by two workers are fine).
                new_rt = "rt-" + secrets.token_urlsafe(12)
                self.refresh_tokens.add(new_rt)
                body["refresh_token"] = new_rt
        return 200, body


class FakeServer:
    """A Flask app served by werkzeug on 127.0.0.1 in a daemon thread, with fault injection."""

    #: paths (prefixes) never subject to injected faults (e.g. a test-control endpoint)
    fault_exempt: tuple[str, ...] = ()
    #: when set, only paths under one of these prefixes are subject to injected faults
    fault_only: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.app = Flask(name)
        self.faults = Faults()
        self.calls: list[tuple[str, str]] = []  # (method, path) of every request
        self.statuses: list[int] = []  # status of every answer, in order
        self.lock = threading.RLock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app.before_request(self._before)
        self.app.after_request(self._after)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeServer:
        """Serve in the background; returns self."""
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------

    def fail_randomly(
        self,
        rate: float,
        kinds: Iterable[str] = ("500", "429", "timeout"),
        *,
        retry_after: float = 1.0,
        hang_seconds: float = 1.0,
        seed: int | None = None,
    ) -> None:
        """Fail ``rate`` of all calls with one of ``kinds`` ("500", "503", "429", "timeout")."""
        self.faults = Faults(
            rate=rate,
            kinds=tuple(kinds),
            retry_after=retry_after,
            hang_seconds=hang_seconds,
            seed=seed,
        )

    def fail_next(
        self, kind: str, count: int = 1, retry_after: float | None = None, method: str | None = None
    ) -> None:
        """Fail the next ``count`` calls (of ``method``, if given) with ``kind``."""
        self.faults.scripted.extend([(kind, retry_after, method)] * count)

    def _before(self) -> Response | None:
        with self.lock:
            self.calls.append((request.method, request.path))
        if any(request.path.startswith(p) for p in self.fault_exempt):
            return None
        if self.fault_only and not any(request.path.startswith(p) for p in self.fault_only):
            return None
        fault = self.faults.pick(request.method)
        if fault is None:
            return None
        kind, retry_after = fault
        if kind == "timeout":
            request.environ["fake.hang"] = self.faults.hang_seconds
            return None
        status = int(kind)
        resp = self.error_response(status, retry_after)
        if retry_after is not None and status in (429, 503):
            resp.headers["Retry-After"] = str(int(retry_after) if retry_after >= 1 else 1)
        return resp

    def _after(self, resp: Response) -> Response:
        with self.lock:
            self.statuses.append(resp.status_code)
        hang = request.environ.get("fake.hang")
        if hang:
            # The change is done; the client just never hears about it in time.
            time.sleep(hang)
        return resp

    def error_response(self, status: int, retry_after: float | None = None) -> Response:
        """The provider's error body for an injected fault (subclasses speak their dialect)."""
        resp = jsonify({"error": {"code": str(status), "message": "injected fault"}})
        resp.status_code = status
        return resp

    def count(self, method: str, path_contains: str = "") -> int:
        """How many calls matched."""
        with self.lock:
            return sum(1 for m, p in self.calls if m == method and path_contains in p)


def bearer(header_value: str | None, scheme: str = "Bearer") -> str | None:
    """The token of an ``Authorization: <scheme> <token>`` header."""
    if not header_value:
        return None
    prefix = scheme + " "
    if not header_value.startswith(prefix):
        return None
    return header_value[len(prefix) :].strip() or None


def json_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """A JSON error response."""
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


Handler = Callable[..., Any]


def token_form() -> dict[str, str]:
    """The token request's form, with HTTP Basic client credentials folded in (RFC 6749 §2.3.1)."""
    form = request.form.to_dict()
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        form.setdefault("client_id", auth.username or "")
        form.setdefault("client_secret", auth.password or "")
    return form
