"""Plugin factories handed to Radicale as ``type`` callables; their repr reveals no secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.services import Services


class PluginFactory:
    """A callable Radicale calls with its configuration to build one of our plugins."""

    def __init__(self, cls: Callable[..., Any], services: Services) -> None:
        self._cls = cls
        self._services = services

    def __call__(self, configuration: Any) -> Any:
        return self._cls(configuration, self._services)

    def __repr__(self) -> str:  # Radicale logs repr(type) on failed logins
        return f"<calhub {self._cls.__module__}.{self._cls.__name__}>"
