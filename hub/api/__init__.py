"""Flask application factory."""

from __future__ import annotations

from flask import Flask

from hub.api.errors import register_error_handlers
from hub.api.feeds import feeds_api_blueprint, feeds_blueprint
from hub.api.health import health_blueprint
from hub.api.idempotency import install_idempotency
from hub.api.invites import invites_blueprint
from hub.api.sync_routes import sync_blueprints
from hub.api.v1 import api_blueprint
from hub.config import Settings
from hub.services import Services


def create_app(settings: Settings, services: Services) -> Flask:
    """Build the Flask app with every blueprint bound to ``services``."""
    app = Flask("calhub")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["calhub"] = services
    register_error_handlers(app)
    app.register_blueprint(health_blueprint(services))
    app.register_blueprint(api_blueprint(services))  # installs Idempotency-Key on its own routes
    # Other /api/v1 blueprints honour Idempotency-Key the same way (the hooks act only on
    # writes that carry the header and a valid API key, so /hooks and /oauth are untouched).
    feeds_api = feeds_api_blueprint(services)
    sync = sync_blueprints(services)  # integrations, /hooks, /oauth (issue 6)
    for bp in [feeds_api, *sync]:
        install_idempotency(bp, services)
        app.register_blueprint(bp)
    app.register_blueprint(feeds_blueprint(services))
    app.register_blueprint(invites_blueprint(services))
    return app
