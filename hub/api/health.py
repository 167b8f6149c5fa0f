"""Liveness and readiness: /healthz answers 200 only once the database is reachable."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect

from hub import __version__
from hub.services import Services


def health_blueprint(services: Services) -> Blueprint:
    """``GET /healthz`` and ``/.well-known/caldav``."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            services.db.ping()
        except Exception as e:  # noqa: BLE001 - report, never crash the probe
            return jsonify(
                {"status": "unavailable", "database": f"unreachable: {e.__class__.__name__}"}
            ), 503
        return jsonify({"status": "ok", "database": "ok", "version": __version__}), 200

    @bp.route("/.well-known/caldav", methods=["GET", "PROPFIND", "HEAD", "OPTIONS"])
    def well_known_caldav() -> Response:
        # RFC 6764 §5: a redirect to the context path; 301 so clients remember it.
        return redirect("/dav/", code=301)

    return bp
