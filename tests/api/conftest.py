"""Fixtures for the API contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.services import Services
from tests.api.receiver import Receiver, serve
from tests.support import Api, LiveServer, build_test_services, isolated_database_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A live webhook receiver on a free port."""
    yield from serve(Receiver())


@pytest.fixture(scope="module")
def shared_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Services, LiveServer, Api]]:
    """One live hub for a whole module of tests that only read or get refused."""
    tmp = tmp_path_factory.mktemp("hub")
    with isolated_database_url(tmp) as url:
        services = build_test_services(tmp, url)
        server = LiveServer(services)
        api = Api(server.url, services.booking.create_api_key("tests")["key"])
        yield services, server, api
        server.stop()
        services.close()
