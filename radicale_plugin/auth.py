"""Radicale auth plugin: calhub users and their app passwords."""

from __future__ import annotations

from radicale import auth, config

from hub.services import Services


class Auth(auth.BaseAuth):
    """Checks passwords against calhub users (and live per-device app passwords)."""

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self._services = services

    def _login(self, login: str, password: str) -> str:
        user = self._services.booking.authenticate(login, password)
        return user["username"] if user else ""
