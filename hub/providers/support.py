"""Helpers shared by connectors: one HTTP call with vendor errors mapped to the four kinds.

OAuth 2 token refresh lives in ``hub.providers.oauth`` (``OAuth2Client``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from hub.providers.base import (
    AuthError,
    NotFoundError,
    ProviderError,
    RejectedError,
    TransientError,
)
from hub.providers.http import parse_retry_after


def error_text(resp: requests.Response) -> str:
    """A short human-readable reason from a vendor error body."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "").strip()[:300]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            parts = [str(err.get(k)) for k in ("code", "id", "message", "title") if err.get(k)]
            return ": ".join(parts)[:300] or str(err)[:300]
        if isinstance(err, str):
            desc = body.get("error_description") or body.get("message") or ""
            return f"{err}: {desc}".strip(": ")[:300]
        for key in ("message", "detail", "description"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


def raise_for(resp: requests.Response, what: str, *, object_call: bool = True) -> None:
    """Raise the error kind matching a non-2xx answer; return silently on success.

    ``object_call`` says the URL names one object, so 404/410 mean "that object is gone"
    (NotFoundError); on a collection they mean the calendar itself is gone (also NotFound —
    the engine turns that into a person-readable Error status).
    """
    status = resp.status_code
    if status < 400:
        return
    reason = f"{what}: HTTP {status} {error_text(resp)}".strip()
    if status in (401,):
        raise AuthError(reason, status=status)
    if status == 403 and _looks_like_auth(resp):
        raise AuthError(reason, status=status)
    if status in (408, 425, 429) or status >= 500:
        raise TransientError(
            reason, status=status, retry_after=parse_retry_after(resp.headers.get("Retry-After"))
        )
    if status in (404, 410):
        raise NotFoundError(reason, status=status)
    raise RejectedError(reason, status=status)


def _looks_like_auth(resp: requests.Response) -> bool:
    text = (resp.text or "").lower()
    return any(
        k in text
        for k in ("token", "scope", "unauthor", "forbidden", "permission", "denied", "credential")
    )


def send(
    session: requests.Session, method: str, url: str, what: str, **kw: Any
) -> requests.Response:
    """One HTTP call; network failures and timeouts become TransientError (no retries here)."""
    try:
        return session.request(method, url, **kw)
    except requests.Timeout as e:
        raise TransientError(f"{what}: timed out ({e.__class__.__name__})") from e
    except requests.ConnectionError as e:
        raise TransientError(f"{what}: connection failed ({e})") from e
    except requests.RequestException as e:
        raise TransientError(f"{what}: request failed ({e})") from e


def recurrence_lines(event: Any) -> list[str]:
    """RFC 5545 RRULE/EXDATE lines of a recurring OutboundEvent (local times in its zone)."""
    if not event.rrule:
        return []
    from zoneinfo import ZoneInfo

    lines = [f"RRULE:{event.rrule}"]
    if event.exdates:
        tz = ZoneInfo(event.timezone)
        local = ",".join(x.astimezone(tz).strftime("%Y%m%dT%H%M%S") for x in event.exdates)
        lines.append(f"EXDATE;TZID={event.timezone}:{local}")
    return lines


def require(config: Mapping[str, Any], key: str, provider: str) -> Any:
    """A mandatory config/credentials value, or a RejectedError naming it."""
    value = config.get(key)
    if value in (None, ""):
        raise RejectedError(f"{provider}: missing required setting {key!r}")
    return value


__all__ = [
    "ProviderError",
    "error_text",
    "parse_retry_after",
    "raise_for",
    "require",
    "send",
]
