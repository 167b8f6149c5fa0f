"""Fixtures shared by the suite. Set CALHUB_TEST_DATABASE_URL to run everything on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.services import Services
from tests.support import Api, LiveServer, build_test_services, isolated_database_url


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for one test."""
    with isolated_database_url(tmp_path) as url:
        yield url


@pytest.fixture
def services(tmp_path: Path, db_url: str) -> Iterator[Services]:
    """Migrated hub services on the test database."""
    svc = build_test_services(tmp_path, db_url)
    yield svc
    svc.close()


@pytest.fixture
def live(services: Services) -> Iterator[LiveServer]:
    """The whole hub served over real HTTP."""
    server = LiveServer(services)
    yield server
    server.stop()


@pytest.fixture
def api(live: LiveServer, services: Services) -> Api:
    """An API client with a fresh key."""
    key = services.booking.create_api_key("tests")["key"]
    return Api(live.url, key)


def next_weekday(weekday: int, hour: int = 12) -> datetime:
    """The next given weekday (0=Monday) at least two days ahead, at ``hour`` UTC."""
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(
        days=2
    )
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def z(dt: datetime) -> str:
    """ISO 8601 UTC with Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def cafe(services: Services) -> dict[str, Any]:
    """A small always-open café in UTC: a 1-seat table, a 10-seat area, a service, a staff member."""
    b = services.booking
    loc = b.create_location({"name": "Test Café", "timezone": "UTC", "expirationDelay": 600})
    table = b.create_resource(
        {"name": "Table 1", "locationId": loc["id"], "kind": "table", "capacity": 1}
    )
    area = b.create_resource(
        {"name": "Lounge", "locationId": loc["id"], "kind": "area", "capacity": 10}
    )
    svc = b.create_service({"name": "Visit", "locationId": loc["id"], "duration": 60})
    return {"location": loc, "table": table, "area": area, "service": svc}
