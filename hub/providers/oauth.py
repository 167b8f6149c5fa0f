"""OAuth 2 bearer tokens for connectors (Google, Microsoft, Zoho): one refresh implementation.

Credentials shape (the API's form): ``{"accessToken", "refreshToken", "expiresAt", "clientId",
"clientSecret"}``; ``expiresAt`` is an ISO 8601 instant or epoch seconds. ``clientId`` /
``clientSecret`` may also sit in ``config``. The token is refreshed shortly before it expires and
once after a 401 (RFC 6749 §6); a refused refresh (``invalid_grant``, Zoho's ``invalid_code``)
is an ``AuthError`` whose message tells a person to reconnect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from hub.providers.base import AuthError
from hub.providers.support import raise_for, send

REFRESH_MARGIN_SECONDS = 60.0


def expires_epoch(value: object) -> float | None:
    """``expiresAt`` as epoch seconds (None when unknown)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def iso_expiry(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC with Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OAuth2Client:
    """Keeps an access token fresh: refresh shortly before expiry, or once after a 401.

    Refreshed tokens go to ``save`` at once (the engine encrypts and stores them); a rotated
    refresh token replaces the old one. ``header_scheme`` is "Bearer" (Google, Graph) or
    "Zoho-oauthtoken"; ``params_in_query`` sends the refresh form in the query (Zoho's form).
    """

    SKEW = REFRESH_MARGIN_SECONDS  # refresh this many seconds before expiry

    def __init__(
        self,
        session: requests.Session,
        token_url: str,
        credentials: dict[str, Any],
        save: Callable[[dict[str, Any]], None],
        *,
        label: str = "the provider",
        config: Mapping[str, Any] | None = None,
        extra_form: Mapping[str, str] | None = None,
        header_scheme: str = "Bearer",
        params_in_query: bool = False,
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.credentials = credentials
        self.save = save
        self.label = label
        self.config = dict(config or {})
        self.extra_form = dict(extra_form or {})
        self.header_scheme = header_scheme
        self.params_in_query = params_in_query

    def _client(self, key: str) -> str:
        return str(self.credentials.get(key) or self.config.get(key) or "")

    def access_token(self) -> str:
        """A usable access token, refreshed first when it is missing or (nearly) expired."""
        token = self.credentials.get("accessToken")
        expires = expires_epoch(self.credentials.get("expiresAt"))
        if not token or (expires is not None and expires - self.SKEW <= time.time()):
            if not token and not self.credentials.get("refreshToken"):
                raise AuthError(
                    f"{self.label} has no usable sign-in saved: reconnect the integration"
                )
            self.refresh()
            token = self.credentials.get("accessToken")
        return str(token)

    def header(self) -> dict[str, str]:
        """The Authorization header, refreshing first when the token is (nearly) expired."""
        return {"Authorization": f"{self.header_scheme} {self.access_token()}"}

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token (RFC 6749 §6) and save it at once."""
        rt = self.credentials.get("refreshToken")
        if not rt:
            raise AuthError(
                f"{self.label} rejected the access token and no refresh token is saved: "
                "reconnect the integration"
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "client_id": self._client("clientId"),
            "client_secret": self._client("clientSecret"),
            **self.extra_form,
        }
        kw: dict[str, Any] = {"params": form} if self.params_in_query else {"data": form}
        resp = send(self.session, "POST", self.token_url, f"{self.label} token refresh", **kw)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if resp.status_code >= 500 or resp.status_code == 429:
            raise_for(resp, f"{self.label} token refresh")  # transient: try again later
        error = body.get("error")
        if error or resp.status_code >= 400:
            desc = body.get("error_description") or ""
            code = error or f"HTTP {resp.status_code}"
            raise AuthError(
                f"{self.label} refused the saved sign-in ({code}"
                + (f": {desc}" if desc else "")
                + "): reconnect the integration",
                status=resp.status_code,
            )
        access = body.get("access_token")
        if not access:
            raise AuthError(f"{self.label} token refresh answered without an access_token")
        new = dict(self.credentials)
        new["accessToken"] = access
        if body.get("refresh_token"):
            new["refreshToken"] = body["refresh_token"]
        expires = time.time() + float(body.get("expires_in") or 3600)
        # Keep the form the credentials came in (epoch seconds or ISO 8601).
        new["expiresAt"] = (
            int(expires) if isinstance(self.credentials.get("expiresAt"), int | float) else None
        ) or iso_expiry(expires)
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
