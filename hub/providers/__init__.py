"""Provider connectors, one module each, listed in the explicit registry below.

A new provider is one module, one entry in ``REGISTRY``, and a run of the shared contract tests.
"""

from __future__ import annotations

from hub.providers.base import Connector
from hub.providers.google import GoogleCalendar

# provider name -> connector class. Filled as connectors land.
REGISTRY: dict[str, type[Connector]] = {}
REGISTRY["google"] = GoogleCalendar


def connector_class(name: str) -> type[Connector]:
    """The connector class registered as ``name``."""
    try:
        return REGISTRY[name]
    except KeyError as e:
        from hub.domain.errors import Invalid

        known = ", ".join(sorted(REGISTRY)) or "none yet"
        raise Invalid(f"unknown provider {name!r}; known providers: {known}") from e
