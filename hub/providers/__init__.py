"""Provider connectors, one module each, listed in the explicit registry below.

A new provider is one module, one entry in ``REGISTRY``, and a run of the shared contract tests.
"""

from __future__ import annotations

from hub.providers.base import Connector
from hub.providers.caldav_remote import CalDAVConnector
from hub.providers.google import GoogleCalendar
from hub.providers.microsoft import MicrosoftConnector
from hub.providers.teamup import TeamupConnector
from hub.providers.zoho import ZohoConnector

# provider name -> connector class: the explicit list of every provider calhub can bridge.
REGISTRY: dict[str, type[Connector]] = {
    "google": GoogleCalendar,
    "microsoft": MicrosoftConnector,
    "caldav": CalDAVConnector,  # iCloud/Fastmail/Nextcloud/Zoho CalDAV via config.preset
    "zoho": ZohoConnector,
    "teamup": TeamupConnector,
}


def connector_class(name: str) -> type[Connector]:
    """The connector class registered as ``name``."""
    try:
        return REGISTRY[name]
    except KeyError as e:
        from hub.domain.errors import Invalid

        known = ", ".join(sorted(REGISTRY)) or "none yet"
        raise Invalid(f"unknown provider {name!r}; known providers: {known}") from e
