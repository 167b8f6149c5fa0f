"""Faults: 30 % of Google calls fail (500, 429 + Retry-After, timeouts), workers die; nothing is
lost or duplicated, and several workers never deliver the same row twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hub.domain.errors import HubError
from hub.services import Services
from hub.store.models import Outbox, Reservation
from hub.sync.engine import SyncEngine
from tests.conftest import next_weekday, z
from tests.fakes.google_calendar import GoogleCalendarSim
from tests.sync.conftest import FAST, drain, google_body, make_worker, ours, pending

REPO = Path(__file__).resolve().parents[2]


class Changes:
    """Random creates, moves and cancellations on the café's lounge, counted."""

    def __init__(self, services: Services, cafe: dict[str, Any], seed: int) -> None:
        self.b = services.booking
        self.cafe = cafe
        self.rng = random.Random(seed)
        self.base = next_weekday(0, 0)
        self.live: list[str] = []
        self.done = 0

    def slot(self) -> datetime:
        return self.base + timedelta(hours=self.rng.randrange(0, 24 * 20))

    def create(self) -> None:
        r = self.b.create(
            {
                "serviceId": self.cafe["service"]["id"],
                "resourceIds": [self.cafe["area"]["id"]],
                "start_time": z(self.slot()),
                "customer": {"firstName": f"Guest{self.done}"},
            }
        )
        self.live.append(r["id"])
        self.done += 1

    def mutate(self) -> None:
        rid = self.rng.choice(self.live)
        try:
            if self.rng.random() < 0.15:
                self.b.cancel(rid, {"by": "customer"})
                self.live.remove(rid)
            else:
                self.b.reschedule(rid, {"start_time": z(self.slot())})
        except HubError:
            return  # the lounge was full then; not a change
        self.done += 1

    def run(self, creates: int, total: int, pace: Any = None) -> None:
        """Make changes until ``total``; ``pace`` is called every 100 (to let workers keep up)."""
        while self.done < total:
            before = self.done
            self.create() if self.done < creates else self.mutate()
            if pace is not None and self.done != before and self.done % 100 == 0:
                pace()


def assert_mirrors(services: Services, sim: GoogleCalendarSim) -> None:
    """Exactly one remote event per live reservation, in its final state; nothing else of ours."""
    with services.db.reader() as s:
        live = {r.id: r for r in s.scalars(select(Reservation).where(Reservation.status == "BK"))}
        for r in live.values():
            s.expunge(r)
    remote = ours(sim)
    assert sorted(remote) == sorted(live)
    for rid, events in remote.items():
        assert len(events) == 1, f"{rid} has {len(events)} remote events"
        ev = events[0]
        start = datetime.fromisoformat(ev["start"]["dateTime"].replace("Z", "+00:00"))
        assert start == live[rid].start, rid
    with services.db.reader() as s:
        dead = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "dead"))
    assert dead == 0


def _wait_drained(services: Services, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pending(services):
        assert time.monotonic() < deadline, f"{pending(services)} deliveries still pending"
        time.sleep(0.2)


def _wait_below(services: Services, n: int) -> None:
    deadline = time.monotonic() + 60
    while pending(services) > n and time.monotonic() < deadline:
        time.sleep(0.05)


def _worker_env(services: Services) -> dict[str, str]:
    s = services.settings
    env = {
        **os.environ,
        "CALHUB_SECRET_KEY": s.secret_key,
        "CALHUB_BASE_URL": "",
        "PYTHONPATH": str(REPO),
    }
    env.pop("CALHUB_CONFIG", None)
    if s.database_url:
        env["CALHUB_DATABASE_URL"] = s.database_url
    else:
        env["CALHUB_HOME"] = str(s.home)
    for key, value in FAST.items():
        env[f"CALHUB_{key.upper()}"] = str(value)
    env["CALHUB_SYNC_POLL_SECONDS"] = "3600"
    env["CALHUB_LOG_LEVEL"] = "ERROR"
    return env


def _done(services: Services) -> int:
    with services.db.reader() as s:
        return int(
            s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "done")) or 0
        )


def test_thousand_changes_through_faults_and_a_killed_worker(
    services: Services, cafe: dict, gsim: GoogleCalendarSim, tmp_path: Path
) -> None:
    """1,000 changes while 30 % of Google calls fail; one of two ``calhub worker`` processes is
    SIGKILLed mid-run and a fresh one takes over. The end state is exact."""
    services.booking.create_integration(google_body(gsim, {"locationId": cafe["location"]["id"]}))
    gsim.set_faults(0.3)
    cmd = [sys.executable, "-m", "hub.cli", "worker"]
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd, env=_worker_env(services), cwd=str(REPO), stdout=log, stderr=log
        )

    procs = [spawn(), spawn()]
    changes = Changes(services, cafe, seed=2)
    killed: list[int] = []

    def pace() -> None:
        # Let the workers keep up, so most changes are really pushed and meet the faults.
        _wait_below(services, 250)
        assert all(p.poll() is None for p in procs if p.pid not in killed), (
            tmp_path / "worker.log"
        ).read_text()[-2000:]
        if not killed and changes.done >= 450:
            assert _done(services) > 100  # the first worker was really working
            procs[0].send_signal(signal.SIGKILL)  # mid-run: claims and HTTP calls in flight die
            procs[0].wait(10)
            killed.append(procs[0].pid)
            procs.append(spawn())  # on PostgreSQL the workers claim with SKIP LOCKED

    try:
        changes.run(creates=200, total=1000, pace=pace)
        _wait_drained(services, 120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
        log.close()
    kinds = gsim.faults.by_kind
    gsim.set_faults(0.0)
    assert killed
    assert sum(kinds.values()) > 100 and set(kinds) == {"500", "429", "timeout"}
    assert_mirrors(services, gsim)


def test_two_workers_never_deliver_a_row_twice(
    services: Services, cafe: dict, gsim: GoogleCalendarSim
) -> None:
    services.booking.create_integration(google_body(gsim, {"locationId": cafe["location"]["id"]}))
    changes = Changes(services, cafe, seed=3)
    changes.run(creates=120, total=120)
    engine_a, engine_b = SyncEngine(services), SyncEngine(services)
    workers = [make_worker(services, engine_a), make_worker(services, engine_b)]
    for n, w in enumerate(workers):
        w.worker_id = f"claimer-{n}"
        w.batch = 5
        w.start()
    try:
        _wait_drained(services, 60)
    finally:
        for w in workers:
            w.stop()
    inserts = sum(
        n for k, n in gsim.api_calls.items() if k.startswith("POST") and k.endswith("/events")
    )
    assert inserts == 120 and gsim.writes == 120  # one insert per row: no row ran twice
    with services.db.reader() as s:
        by = dict(
            s.execute(select(Outbox.claimed_by, func.count()).group_by(Outbox.claimed_by)).all()
        )
    assert set(by) == {"claimer-0", "claimer-1"}  # both really worked
    assert_mirrors(services, gsim)
    drain(services, make_worker(services, engine_a))
