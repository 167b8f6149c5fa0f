"""Webhook signatures: ``X-Calhub-Signature`` = hex HMAC-SHA256 of ``timestamp + "." + body``.

Receivers check a delivery with ``verify_signature``: constant-time comparison, and a replay
window so a captured delivery cannot be sent again much later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Calhub-Timestamp"
SIGNATURE_HEADER = "X-Calhub-Signature"
EVENT_HEADER = "X-Calhub-Event"
DELIVERY_HEADER = "X-Calhub-Delivery"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}." + body`` keyed with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``signature`` matches and ``timestamp`` is within ``tolerance`` seconds of now."""
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret, ts, body)
    return hmac.compare_digest(expected, (signature or "").strip().lower())
