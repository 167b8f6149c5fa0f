"""Secret .ics feeds (``GET /feeds/<token>.ics``, no API key: the token is the secret), their
management under ``/api/v1/feeds``, and the mail delivery status (``GET /api/v1/mail/status``)."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from hub.api.auth import require_api_key
from hub.booking.feed_queries import REFRESH, FeedQueries
from hub.domain.errors import BadRequest, NotFound
from hub.mail.status import mail_status
from hub.services import Services


def feed_urls(base_url: str, token: str) -> dict[str, str]:
    """The https:// and webcal:// URLs of a feed token."""
    url = f"{base_url.rstrip('/')}/feeds/{token}.ics"
    scheme, _, rest = url.partition("://")
    return {"url": url, "webcalUrl": f"webcal://{rest}" if rest else url}


def feeds_blueprint(services: Services) -> Blueprint:
    """``GET /feeds/<token>.ics`` with ETag/Last-Modified validators."""
    bp = Blueprint("feeds", __name__)
    queries = FeedQueries(services.db)

    @bp.get("/feeds/<token>.ics")
    def feed(token: str) -> Response:
        found = queries.render_token(token)
        if found is None:
            raise NotFound("this feed does not exist or was revoked")
        headers = {
            "ETag": found.etag,
            "Last-Modified": format_datetime(
                found.last_modified.replace(microsecond=0), usegmt=True
            ),
            "Cache-Control": f"private, max-age={int(REFRESH.total_seconds() // 4)}",
            "X-Robots-Tag": "noindex",
        }
        if _not_modified(found.etag, found.last_modified):
            return Response(status=304, headers=headers)
        return Response(
            found.text,
            status=200,
            headers=headers | {"Content-Disposition": 'inline; filename="calendar.ics"'},
            content_type="text/calendar; charset=utf-8",
        )

    return bp


def _not_modified(etag: str, last_modified: Any) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when present; else If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def feeds_api_blueprint(services: Services) -> Blueprint:
    """``/api/v1/feeds`` (create, list, rotate, revoke) and ``/api/v1/mail/status``."""
    bp = Blueprint("feeds_api", __name__, url_prefix="/api/v1")
    auth = require_api_key(services)
    booking = services.booking

    def actor() -> str:
        from flask import g

        return f"apikey:{g.api_key['name']}"

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True) if request.data else {}
        if not isinstance(data, dict):
            raise BadRequest('send {"scope": "staff"|"customer"|"location", "id": "…"} as JSON')
        return data

    def with_urls(made: dict[str, Any]) -> dict[str, Any]:
        token = made.pop("token")
        return made | feed_urls(services.settings.base_url, token)

    @bp.post("/feeds")
    @auth
    def create_feed() -> tuple[Response, int]:
        return jsonify(with_urls(booking.create_feed_token(body(), actor=actor()))), 201

    @bp.get("/feeds")
    @auth
    def list_feeds() -> Response:
        revoked = request.args.get("includeRevoked", "false").lower() == "true"
        data = booking.list_feed_tokens(include_revoked=revoked)
        return jsonify({"data": data, "count": len(data)})

    @bp.post("/feeds/<feed_id>/rotate")
    @auth
    def rotate_feed(feed_id: str) -> Response:
        return jsonify(with_urls(booking.rotate_feed_token(feed_id, actor=actor())))

    @bp.delete("/feeds/<feed_id>")
    @auth
    def revoke_feed(feed_id: str) -> tuple[str, int]:
        booking.revoke_feed_token(feed_id, actor=actor())
        return "", 204

    @bp.get("/mail/status")
    @auth
    def status() -> Response:
        return jsonify(mail_status(services))

    return bp
