"""OAuth 2 connect in the browser: authorization code with PKCE (S256) via authlib.

``GET /oauth/<provider>/start?integration=<id>&sig=…`` (the ``connectUrl`` an integration shows
to API-key holders, or the same path with an API key) redirects to the provider; the provider
sends the browser back to ``/oauth/<provider>/callback`` where the code is exchanged for tokens,
which are stored encrypted and turn the integration Active. The PKCE verifier never leaves
calhub except inside an encrypted, HttpOnly cookie bound to the ``state``.
"""

from __future__ import annotations

import hmac
import time
from html import escape
from typing import Any
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import Blueprint, Response, redirect, request

from hub.domain.errors import Forbidden, Invalid, NotFound, UpstreamUnavailable
from hub.services import Services
from hub.store.models import Integration
from hub.sync.engine import SyncEngine

COOKIE = "calhub_oauth"
FLOW_SECONDS = 600


def connect_url(services: Services, provider: str, integration_id: str) -> str:
    """The signed browser link that starts connecting an integration."""
    sig = services.secrets.sign(f"oauth-start:{integration_id}")
    query = urlencode({"integration": integration_id, "sig": sig})
    return f"{services.settings.base_url.rstrip('/')}/oauth/{provider}/start?{query}"


def _page(title: str, text: str, status: int = 200) -> Response:
    html = (
        "<!doctype html><meta charset=utf-8><title>calhub</title>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
    )
    return Response(html, status=status, mimetype="text/html")


def oauth_blueprint(services: Services, engine: SyncEngine | None = None) -> Blueprint:
    """The /oauth routes."""
    bp = Blueprint("oauth", __name__)
    engine = engine or SyncEngine(services)
    box, booking = services.secrets, services.booking

    def callback_url(provider: str) -> str:
        return f"{services.settings.base_url.rstrip('/')}/oauth/{provider}/callback"

    def setup(provider: str, integration_id: str) -> tuple[Integration, Any, dict[str, Any]]:
        cls = engine.connector_class_for(provider)
        if cls is None or cls.auth_scheme != "oauth2":
            raise NotFound(f"{provider} does not connect with OAuth 2")
        with services.db.reader() as s:
            i = s.get(Integration, integration_id)
            if i is None or i.provider != provider:
                raise NotFound(f"integration {integration_id} is not a {provider} integration")
            s.expunge(i)
        creds = booking.integration_credentials(i) or {}
        return i, cls, creds

    def client(i: Integration, creds: dict[str, Any]) -> tuple[str, str | None]:
        client_id = creds.get("clientId") or (i.config or {}).get("clientId")
        if not client_id:
            raise Invalid(
                "this integration has no OAuth client: PATCH credentials "
                '{"clientId": …, "clientSecret": …} first'
            )
        return client_id, creds.get("clientSecret")

    def allowed(integration_id: str) -> bool:
        if box.verify(f"oauth-start:{integration_id}", request.args.get("sig", "")):
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and booking.api_key_for(token.strip()) is not None

    @bp.get("/oauth/<provider>/start")
    def start(provider: str) -> Response:
        integration_id = request.args.get("integration", "")
        if not integration_id:
            raise Invalid("integration is required: /oauth/<provider>/start?integration=<id>")
        if not allowed(integration_id):
            raise Forbidden(
                "open the connectUrl shown by GET /api/v1/integrations/<id> (it is signed), "
                "or send an API key"
            )
        i, cls, creds = setup(provider, integration_id)
        client_id, client_secret = client(i, creds)
        verifier = generate_token(64)
        session = OAuth2Session(
            client_id,
            client_secret,
            scope=" ".join(cls.oauth_scopes),
            redirect_uri=callback_url(provider),
            code_challenge_method="S256",
        )
        authorize = (i.config or {}).get("authorizeUrl") or cls.oauth_authorize_url
        url, state = session.create_authorization_url(
            authorize, code_verifier=verifier, access_type="offline", prompt="consent"
        )
        flow = {
            "state": state,
            "verifier": verifier,
            "integration": i.id,
            "provider": provider,
            "exp": time.time() + FLOW_SECONDS,
        }
        resp = redirect(url, code=302)
        resp.set_cookie(
            COOKIE,
            box.encrypt_json(flow).decode(),
            max_age=FLOW_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=services.settings.base_url.startswith("https://"),
            path="/oauth/",
        )
        return resp

    @bp.get("/oauth/<provider>/callback")
    def callback(provider: str) -> Response:
        if request.args.get("error"):
            return _page("Not connected", f"The provider said: {request.args['error']}", 400)
        raw = request.cookies.get(COOKIE)
        try:
            flow = box.decrypt_json(raw.encode()) if raw else None
        except ValueError:
            flow = None
        if not flow or flow.get("exp", 0) < time.time() or flow.get("provider") != provider:
            return _page(
                "Not connected",
                "This sign-in expired or was started elsewhere; start again from calhub.",
                400,
            )
        if not hmac.compare_digest(str(flow.get("state")), request.args.get("state", "")):
            return _page(
                "Not connected",
                "The sign-in answer does not belong to this browser (state mismatch).",
                400,
            )
        code = request.args.get("code")
        if not code:
            return _page("Not connected", "The provider sent no authorization code.", 400)
        i, cls, creds = setup(provider, flow["integration"])
        client_id, client_secret = client(i, creds)
        session = OAuth2Session(
            client_id,
            client_secret,
            redirect_uri=callback_url(provider),
            code_challenge_method="S256",
        )
        token_url = (i.config or {}).get("tokenUrl") or cls.oauth_token_url
        try:
            token = session.fetch_token(
                token_url, code=code, code_verifier=flow["verifier"], timeout=20
            )
        except OAuthError as e:
            return _page("Not connected", f"The provider refused the sign-in ({e.error}).", 400)
        except Exception as e:  # network or a non-JSON answer
            raise UpstreamUnavailable(f"the {provider} token endpoint failed: {e}") from e
        new = {"accessToken": token["access_token"], "clientId": client_id}
        if client_secret:
            new["clientSecret"] = client_secret
        if token.get("refresh_token"):
            new["refreshToken"] = token["refresh_token"]
        if token.get("expires_in"):
            from hub.providers.oauth import iso_expiry

            new["expiresAt"] = iso_expiry(time.time() + float(token["expires_in"]))
        booking.update_integration(i.id, {"credentials": new}, actor=f"oauth:{provider}")
        engine.reconnected(i.id)
        resp = _page("Connected", f"{i.name} is connected to calhub. You can close this window.")
        resp.delete_cookie(COOKIE, path="/oauth/")
        return resp

    return bp
