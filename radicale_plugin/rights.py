"""Radicale rights plugin: each user reads and writes only their own home (extended per role)."""

from __future__ import annotations

from radicale import config, pathutils, rights

from hub.services import Services


class Rights(rights.BaseRights):
    """Owner-only rights over calhub principals; refined per collection by the storage views."""

    def __init__(self, configuration: config.Configuration, services: Services) -> None:
        super().__init__(configuration)
        self._services = services

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        sane = pathutils.strip_path(path)
        if not sane:
            return "R"
        owner = sane.split("/", 1)[0]
        if owner != user:
            return ""
        return "RW" if "/" not in sane else "rw"
