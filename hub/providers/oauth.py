"""OAuth 2 bearer tokens for connectors: refresh before expiry and on 401, via authlib.

Credentials shape (the API's form, shared by Google and Microsoft):
``{"accessToken", "refreshToken", "expiresAt", "clientId", "clientSecret"}``; ``expiresAt`` is an
ISO 8601 instant or epoch seconds. ``clientId``/``clientSecret`` may also sit in ``config``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from hub.providers.base import AuthError, TransientError

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


class BearerTokens:
    """Keeps a connector's access token fresh; raises AuthError when the grant is gone."""

    def __init__(
        self,
        provider_label: str,
        credentials: dict[str, Any],
        config: dict[str, Any],
        token_url: str,
        save: Callable[[dict[str, Any]], None],
        timeout: float | tuple[float, float] = (5.0, 20.0),
    ) -> None:
        self.label = provider_label
        self.credentials = credentials
        self.config = config
        self.token_url = token_url
        self.save = save
        self.timeout = timeout

    def _client(self) -> tuple[str | None, str | None]:
        c, k = self.credentials, self.config
        return c.get("clientId") or k.get("clientId"), c.get("clientSecret") or k.get(
            "clientSecret"
        )

    def access_token(self) -> str:
        """A usable access token, refreshed first when it expires within a minute."""
        exp = expires_epoch(self.credentials.get("expiresAt"))
        token = self.credentials.get("accessToken")
        if not token or (exp is not None and exp - time.time() < REFRESH_MARGIN_SECONDS):
            if self.credentials.get("refreshToken"):
                self.refresh()
                token = self.credentials.get("accessToken")
        if not token:
            raise AuthError(f"{self.label} has no usable sign-in saved: reconnect the integration")
        return str(token)

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token (authlib) and save it at once."""
        refresh = self.credentials.get("refreshToken")
        if not refresh:
            raise AuthError(
                f"{self.label} rejected the access token and no refresh token is saved: "
                "reconnect the integration"
            )
        client_id, client_secret = self._client()
        session = OAuth2Session(client_id, client_secret)
        try:
            token = session.refresh_token(
                self.token_url, refresh_token=refresh, timeout=self.timeout
            )
        except OAuthError as e:
            if e.error in ("invalid_grant", "invalid_client", "unauthorized_client"):
                raise AuthError(
                    f"{self.label} refused the saved sign-in ({e.error}): reconnect the "
                    "integration",
                    status=400,
                ) from e
            raise TransientError(f"{self.label} token refresh failed: {e.error}") from e
        except requests.RequestException as e:
            raise TransientError(f"{self.label} token endpoint unreachable: {e}") from e
        except ValueError as e:  # a non-JSON answer, e.g. an HTML error page from a 5xx
            raise TransientError(f"{self.label} token endpoint answered nonsense: {e}") from e
        finally:
            session.close()
        if not token.get("access_token"):
            raise TransientError(f"{self.label} token endpoint returned no access_token")
        self.credentials["accessToken"] = token["access_token"]
        if token.get("refresh_token"):
            self.credentials["refreshToken"] = token["refresh_token"]
        expires_in = token.get("expires_in")
        if expires_in:
            self.credentials["expiresAt"] = iso_expiry(time.time() + float(expires_in))
        self.save(dict(self.credentials))
