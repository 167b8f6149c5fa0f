"""Helpers shared by connectors: one HTTP call with vendor errors mapped to the four kinds, and
OAuth 2 refresh-token handling (refresh before expiry and once on 401, ``invalid_grant`` → auth).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hub.providers.base import (
    AuthError,
    NotFoundError,
    ProviderError,
    RejectedError,
    TransientError,
)

# invalid_grant (RFC 6749 §5.2); Zoho answers invalid_code for a revoked refresh token.
REVOKED_GRANT_ERRORS = {"invalid_grant", "invalid_code", "invalid_client", "unauthorized_client"}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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


def _expiry_epoch(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class OAuth2Client:
    """Keeps an access token fresh: refresh shortly before expiry, or once after a 401.

    ``credentials`` uses the hub's keys: accessToken, refreshToken, expiresAt (epoch seconds or
    ISO 8601), clientId, clientSecret. Refreshed tokens go to ``save`` at once (the engine
    encrypts and stores them); a rotated refresh token replaces the old one.
    """

    SKEW = 60.0  # refresh this many seconds before expiry

    def __init__(
        self,
        session: requests.Session,
        token_url: str,
        credentials: dict[str, Any],
        save: Callable[[dict[str, Any]], None],
        *,
        extra_form: Mapping[str, str] | None = None,
        header_scheme: str = "Bearer",
        params_in_query: bool = False,
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.credentials = credentials
        self.save = save
        self.extra_form = dict(extra_form or {})
        self.header_scheme = header_scheme
        self.params_in_query = params_in_query

    def header(self) -> dict[str, str]:
        """The Authorization header, refreshing first when the token is (nearly) expired."""
        token = self.credentials.get("accessToken")
        expires = _expiry_epoch(self.credentials.get("expiresAt"))
        if not token or (expires is not None and expires - self.SKEW <= time.time()):
            self.refresh()
            token = self.credentials.get("accessToken")
        return {"Authorization": f"{self.header_scheme} {token}"}

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token (RFC 6749 §6)."""
        rt = self.credentials.get("refreshToken")
        if not rt:
            raise AuthError("no refresh token stored: reconnect the account")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "client_id": str(self.credentials.get("clientId", "")),
            "client_secret": str(self.credentials.get("clientSecret", "")),
            **self.extra_form,
        }
        kw: dict[str, Any] = {"params": form} if self.params_in_query else {"data": form}
        resp = send(self.session, "POST", self.token_url, "token refresh", **kw)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise_for(resp, "token refresh")
        if error or resp.status_code >= 400:
            desc = body.get("error_description", "") if isinstance(body, dict) else ""
            code = error or f"HTTP {resp.status_code}"
            raise AuthError(
                f"the provider refused to refresh the access token ({code}"
                + (f": {desc}" if desc else "")
                + "): the grant was revoked or expired — reconnect the account",
                status=resp.status_code,
            )
        access = body.get("access_token")
        if not access:
            raise AuthError("token refresh answered without an access_token")
        new = dict(self.credentials)
        new["accessToken"] = access
        if body.get("refresh_token"):
            new["refreshToken"] = body["refresh_token"]
        lifetime = float(body.get("expires_in") or 3600)
        expires = time.time() + lifetime
        old = self.credentials.get("expiresAt")
        new["expiresAt"] = (
            datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
            if isinstance(old, str)
            else int(expires)
        )
        self.credentials.clear()
        self.credentials.update(new)
        self.save(dict(new))

    def request(
        self, method: str, url: str, what: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        """An authorized call; on 401 refresh once and repeat it (the documented OAuth flow)."""
        hdrs = {**(headers or {}), **self.header()}
        resp = send(self.session, method, url, what, headers=hdrs, **kw)
        if resp.status_code == 401:
            self.refresh()
            hdrs = {**(headers or {}), **self.header()}
            resp = send(self.session, method, url, what, headers=hdrs, **kw)
        return resp


def require(config: Mapping[str, Any], key: str, provider: str) -> Any:
    """A mandatory config/credentials value, or a RejectedError naming it."""
    value = config.get(key)
    if value in (None, ""):
        raise RejectedError(f"{provider}: missing required setting {key!r}")
    return value


__all__ = [
    "OAuth2Client",
    "ProviderError",
    "error_text",
    "parse_retry_after",
    "raise_for",
    "require",
    "send",
]
