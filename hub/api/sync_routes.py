"""The sync-related blueprints share one engine: integrations API, push hooks, OAuth connect."""

from __future__ import annotations

from flask import Blueprint

from hub.services import Services


def sync_blueprints(services: Services) -> list[Blueprint]:
    """Blueprints of issue 6, bound to one SyncEngine."""
    from hub.api.integrations import integrations_blueprint
    from hub.api.oauth import oauth_blueprint
    from hub.sync.engine import SyncEngine

    engine = SyncEngine(services)
    return [integrations_blueprint(services, engine), oauth_blueprint(services, engine)]
