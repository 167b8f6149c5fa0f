"""One WSGI application: Flask at ``/``, Radicale with calhub's plugins at ``/dav/``."""

from __future__ import annotations

import logging
from typing import Any

import radicale.config
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from hub.api import create_app
from hub.services import Services
from radicale_plugin.app import HubApplication
from radicale_plugin.auth import Auth
from radicale_plugin.factory import PluginFactory
from radicale_plugin.rights import Rights
from radicale_plugin.storage import Storage


def radicale_configuration(services: Services) -> radicale.config.Configuration:
    """Radicale's configuration with calhub's storage, auth and rights injected as callables."""
    configuration = radicale.config.load()
    configuration.update(
        {
            "storage": {"type": PluginFactory(Storage, services), "predefined_collections": ""},
            "auth": {"type": PluginFactory(Auth, services), "delay": "0.2"},
            # Rendering and queries happen per request; Radicale's own caches don't apply.
            "reporting": {"max_freebusy_occurrence": "10000"},
            "rights": {"type": PluginFactory(Rights, services)},
            "web": {"type": "none"},
            # Radicale caps a single resource at 80 % of the request limit; say so explicitly
            # rather than have it warn about the cap on every start.
            "server": {
                "max_content_length": str(services.settings.max_request_bytes * 10),
                "max_resource_size": str(services.settings.max_request_bytes * 8),
            },
        },
        "calhub",
        privileged=True,
    )
    return configuration


def build_wsgi(services: Services) -> Any:
    """The complete hub as a WSGI callable."""
    flask_app = create_app(services.settings, services)
    dav = HubApplication(radicale_configuration(services))
    logging.getLogger("radicale").setLevel(logging.WARNING)
    return DispatcherMiddleware(flask_app, {"/dav": dav})
