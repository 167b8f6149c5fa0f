"""Fixtures for the CalDAV tests: the demo café served over real HTTP, real clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import caldav
import pytest
import requests

from hub.demo import DEMO_PASSWORD, load_demo
from hub.services import Services
from tests.support import Api, LiveServer, build_test_services, isolated_database_url


class DemoHub:
    """A live hub with the demo café, plus helpers for DAV requests as each demo user."""

    def __init__(self, services: Services, server: LiveServer) -> None:
        self.services = services
        self.server = server
        self.url = server.url
        self.dav = server.url + "/dav"
        key = services.booking.create_api_key("caldav-tests")["key"]
        self.api = Api(server.url, key)

    def client(self, user: str, password: str = DEMO_PASSWORD) -> caldav.DAVClient:
        """A caldav library client logged in as ``user``."""
        return caldav.DAVClient(self.dav + "/", username=user, password=password)

    def http(self, user: str, password: str = DEMO_PASSWORD) -> requests.Session:
        """A plain HTTP session with Basic auth as ``user``."""
        s = requests.Session()
        s.auth = (user, password)
        return s

    def location(self) -> dict[str, Any]:
        """The demo location."""
        return self.services.queries.list("locations", {})["data"][0]

    def user(self, username: str) -> dict[str, Any]:
        """A demo user's row as the CLI shows it."""
        from sqlalchemy import select

        from hub.booking.accounts import user_view
        from hub.store.models import User

        with self.services.db.reader() as s:
            return user_view(s.scalars(select(User).where(User.username == username)).one())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHub]:
    """The demo café on a live server, shared by one test module."""
    tmp: Path = tmp_path_factory.mktemp("caldav")
    with isolated_database_url(tmp) as url:
        services = build_test_services(tmp, url)
        load_demo(services)
        server = LiveServer(services)
        try:
            yield DemoHub(services, server)
        finally:
            server.stop()
            services.close()
