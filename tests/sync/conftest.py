"""Fixtures for the sync engine tests: a Google simulator and a hub tuned for quick retries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.services import Services
from hub.sync.engine import SyncEngine
from hub.sync.runtime import build_policy
from hub.sync.worker import OutboxWorker
from tests.conftest import z
from tests.fakes.google_calendar import GoogleCalendarSim
from tests.support import build_test_services

FAST = {
    "worker_poll_seconds": 0.05,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.4,
    "retry_max_attempts": 1000,
    "worker_lease_seconds": 3.0,
    "sync_http_timeout_seconds": 0.2,
}


@pytest.fixture
def services(tmp_path: Path, db_url: str) -> Iterator[Services]:
    """Hub services whose worker retries quickly (overrides the suite-wide fixture)."""
    svc = build_test_services(tmp_path, db_url, **FAST)
    yield svc
    svc.close()


@pytest.fixture
def gsim() -> Iterator[GoogleCalendarSim]:
    """A running Google Calendar simulator."""
    sim = GoogleCalendarSim(timeout_sleep=0.25).start()
    sim.add_client()
    yield sim
    sim.stop()


@pytest.fixture
def engine(services: Services) -> SyncEngine:
    """A sync engine on the test services."""
    return SyncEngine(services)


@pytest.fixture
def staff(services: Services, cafe: dict[str, Any]) -> dict[str, Any]:
    """Two staff members in the café."""
    b = services.booking
    loc = cafe["location"]["id"]
    out = {
        "anna": b.create_resource(
            {"name": "Anna", "locationId": loc, "kind": "staff", "capacity": 1}
        ),
        "ben": b.create_resource(
            {"name": "Ben", "locationId": loc, "kind": "staff", "capacity": 1}
        ),
    }
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for res in out.values():  # on shift around the clock, every day
        b.create_shift(
            {
                "resourceId": res["id"],
                "start": z(day),
                "end": z(day + timedelta(days=1)),
                "rrule": "FREQ=DAILY",
            }
        )
    return out


def google_body(
    sim: GoogleCalendarSim, scope: dict[str, str], calendar: str = "primary", name: str = "Google"
) -> dict[str, Any]:
    """The API body that connects a Google calendar on the simulator."""
    return {
        "provider": "google",
        "name": name,
        "scope": scope,
        "config": {
            "calendarId": calendar,
            "baseUrl": sim.base_url,
            "tokenUrl": sim.token_url,
            "authorizeUrl": sim.authorize_url,
        },
        "credentials": sim.grant(),
    }


def make_worker(services: Services, engine: SyncEngine) -> OutboxWorker:
    """An in-process outbox worker with the integration handler only (no periodic jobs)."""
    return OutboxWorker(
        services.db,
        {"integration": engine.handle},
        policy=build_policy(services),
        poll_seconds=0.05,
        lease_seconds=services.settings.worker_lease_seconds,
    )


def pending(services: Services, integration_id: str | None = None) -> int:
    """Outbox rows still pending (optionally for one integration)."""
    from sqlalchemy import func, select

    from hub.store.models import Outbox

    with services.db.reader() as s:
        q = (
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.status == "pending", Outbox.target == "integration")
        )
        if integration_id:
            q = q.where(Outbox.integration_id == integration_id)
        return int(s.scalar(q) or 0)


def drain(
    services: Services,
    worker: OutboxWorker,
    timeout: float = 30.0,
    integration_id: str | None = None,
) -> None:
    """Run the worker until no integration delivery is pending (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while pending(services, integration_id):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{pending(services, integration_id)} deliveries still pending after {timeout}s"
            )
        if not worker.run_once():
            time.sleep(0.03)


def ours(sim: GoogleCalendarSim, calendar: str = "primary") -> dict[str, list[dict[str, Any]]]:
    """Live remote events carrying a calhub reservation id, grouped by that id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for ev in sim.live_events(calendar):
        private = (ev.get("extendedProperties") or {}).get("private") or {}
        cid = private.get("calhubId")
        if cid and private.get("calhubEntity", "reservation") == "reservation":
            out.setdefault(cid, []).append(ev)
    return out
