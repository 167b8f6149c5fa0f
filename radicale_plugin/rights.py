"""Radicale rights plugin: a principal sees only their own home, and within it what their role
allows; read-only collections answer "r" so clients grey them out and Radicale refuses writes
before storage is touched."""

from __future__ import annotations

from radicale import config, pathutils, rights

from hub.booking.dav_read import DavQueries
from hub.domain.statuses import Role
from hub.services import Services
from radicale_plugin import session
from radicale_plugin.paths import Home, load_home, split


class Rights(rights.BaseRights):
    """Owner-only homes; per-collection rights by role (see README's URL table)."""

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self._queries = DavQueries(services.db)

    def _home(self, user: str) -> Home | None:
        cache = session.current().cache
        key = ("rights-home", user)
        if key not in cache:
            cache[key] = load_home(self._queries, user)
        return cache[key]

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        parts = split(pathutils.strip_path(path))
        if not parts:
            return "R"
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "RW"
        home = self._home(user)
        if home is None:
            return ""
        view = home.views.get(parts[1])
        if view is None:
            return "rw"  # not there yet: MKCALENDAR may create it
        if view.kind == "freebusy":
            return "r"
        if home.principal.role != Role.MANAGER and view.location is not None:
            return "r"
        return "rw"
