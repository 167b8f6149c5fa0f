"""Idempotency-Key for every POST/PUT/PATCH under /api/v1.

The same key with the same request (method, path and canonical JSON body) answers the first
answer again, marked ``Idempotent-Replayed: true``; the same key with another request is a 422;
a repeat that arrives while the first is still running is a 409. Keys are scoped to the API key
and forgotten after 24 hours. Answers of 2xx and 4xx are stored; a 5xx releases the key so the
client can retry. Stored answers are encrypted (they hold customer details). The bookkeeping
itself is a booking command (one write path).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Flask, Response, g, request

from hub.crypto import SecretBox
from hub.domain.errors import Conflict
from hub.services import Services

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 over method, path and the body; JSON bodies are canonicalised first."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _encode(resp: Response, box: SecretBox) -> str:
    # Answers carry customer details and, once, a new webhook's secret: encrypted at rest.
    saved = {"contentType": resp.content_type, "body": resp.get_data(as_text=True)}
    return box.encrypt_json(saved).decode("ascii")


def _replay(status: int, stored: str, box: SecretBox) -> Response:
    try:
        saved: dict[str, Any] = box.decrypt_json(stored.encode("ascii"))
    except ValueError as e:  # the secret key changed since the answer was stored
        raise Conflict(
            "the first answer to this Idempotency-Key can no longer be read; use a new key",
            code="idempotency_key_unreadable",
        ) from e
    body = saved.get("body", "") if status != 204 else ""
    resp = Response(body, status=status, content_type=saved.get("contentType"))
    resp.headers[REPLAYED] = "true"
    return resp


def install_idempotency(target: Flask | Blueprint, services: Services) -> None:
    """Register the before/after hooks that give ``target``'s write routes Idempotency-Key."""
    booking, box = services.booking, services.secrets

    @target.before_request
    def _reserve() -> Response | None:
        key = request.headers.get(HEADER)
        if request.method not in WRITE_METHODS or key is None:
            return None
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        api_key = booking.api_key_for(token) if token else None
        if api_key is None:
            return None  # the route's own auth check answers 401; nothing to remember
        key = key.strip()
        fingerprint = request_fingerprint(request.method, request.path, request.get_data())
        stored = booking.reserve_idempotency_key(
            api_key["id"], key, request.method, request.path, fingerprint
        )
        if stored is not None:
            return _replay(stored.status, stored.body, box)
        g.idempotency = (api_key["id"], key)
        return None

    @target.after_request
    def _remember(resp: Response) -> Response:
        reserved = g.pop("idempotency", None)
        if reserved is None:
            return resp
        if resp.status_code >= 500:
            booking.release_idempotency_key(*reserved)
        else:
            booking.complete_idempotency_key(*reserved, resp.status_code, _encode(resp, box))
        return resp

    @target.teardown_request
    def _release(_exc: BaseException | None) -> None:
        # after_request did not run (an error while answering): free the key for a retry.
        reserved = g.pop("idempotency", None)
        if reserved is not None:
            booking.release_idempotency_key(*reserved)
