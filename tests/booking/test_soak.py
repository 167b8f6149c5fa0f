"""Randomized soak: thousands of holds, bookings, moves, cancels and expiries from threads and a
second process, then proof from the database that no resource was ever over capacity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select

from hub.domain.capacity import peak_load, units_used
from hub.domain.statuses import OCCUPYING_VALUES, Status
from hub.services import Services
from hub.store.models import ChangeLog, Reservation, ReservationResource, Resource
from tests.booking.soak_driver import run_ops
from tests.support import build_test_services

THREADS = 2
PROCESSES = 2  # other processes escape this one's GIL and share the database for real
OPS_PER_THREAD = int(os.environ.get("CALHUB_SOAK_OPS", "1250"))


def _setup(services: Services) -> dict[str, Any]:
    b = services.booking
    loc = b.create_location({"name": "Soak Café", "timezone": "UTC", "expirationDelay": 1})
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)

    def res(name: str, kind: str, cap: int) -> str:
        return b.create_resource(
            {"name": name, "locationId": loc["id"], "kind": kind, "capacity": cap}
        )["id"]

    resources = [
        res("Table A", "table", 1),
        res("Table B", "table", 1),
        res("Four-top", "table", 4),
        res("Lounge", "area", 10),
        res("Barista", "staff", 2),
    ]
    b.create_shift(
        {
            "resourceId": resources[-1],
            "start": (day - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (day + timedelta(hours=13)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rrule": "FREQ=DAILY;COUNT=6",
        }
    )
    s30 = b.create_service({"name": "Espresso", "locationId": loc["id"], "duration": 30})
    s60 = b.create_service(
        {"name": "Brunch", "locationId": loc["id"], "duration": 60, "bufferAfter": 15}
    )
    return {
        "day": day.isoformat(),
        "slots": 48,
        "resources": resources,
        "services": [s30["id"], s60["id"]],
        "buffers": {s30["id"]: (0, 0), s60["id"]: (0, 15)},
    }


def _final_state_peaks(services: Services) -> dict[str, tuple[int, int]]:
    """Peak load and capacity per resource, from the reservations table as it stands."""
    now = datetime.now(UTC)
    q = (
        select(
            ReservationResource.resource_id,
            Reservation.id,
            Reservation.block_start,
            Reservation.block_end,
            Reservation.party_size,
            Reservation.status,
            Reservation.expires_at,
            Resource.kind,
            Resource.capacity,
        )
        .join(Reservation, Reservation.id == ReservationResource.reservation_id)
        .join(Resource, Resource.id == ReservationResource.resource_id)
        .where(Reservation.status.in_(OCCUPYING_VALUES))
    )
    with services.db.engine.connect() as conn:
        rows = [
            row
            for row in conn.execute(q)
            if not (row.status == Status.INITIAL and row.expires_at <= now)
        ]
    spread = Counter(row.id for row in rows if row.kind != "staff")
    per_res: dict[str, list[tuple[datetime, datetime, int]]] = {}
    caps: dict[str, int] = {}
    for row in rows:
        caps[row.resource_id] = row.capacity
        units = units_used(row.kind, row.capacity, row.party_size, spread[row.id] or 1)
        per_res.setdefault(row.resource_id, []).append((row.block_start, row.block_end, units))
    return {rid: (peak_load(iv), caps[rid]) for rid, iv in per_res.items()}


def _replay_history(services: Services, spec: dict[str, Any]) -> int:
    """Replay every committed change in commit order; after each, no touched resource may be over
    capacity at any instant (holds counted live until their expiry at that commit's time)."""
    with services.db.engine.connect() as conn:
        kinds = {r.id: (r.kind, r.capacity) for r in conn.execute(select(Resource))}
        log = conn.execute(
            select(ChangeLog.seq, ChangeLog.at, ChangeLog.data)
            .where(ChangeLog.entity == "reservation")
            .order_by(ChangeLog.seq)
        ).all()
    by_resource: dict[str, dict[str, dict[str, Any]]] = {}
    clock = datetime.min.replace(tzinfo=UTC)

    def ts(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    for entry in log:
        appt = entry.data["appointment"]
        # A command stamps its time when it starts, then may wait for the lock: the commit
        # itself happened no earlier than any commit before it.
        clock = max(clock, entry.at)
        for mine in by_resource.values():
            mine.pop(appt["id"], None)
        for rid in appt["resourceIds"]:
            by_resource.setdefault(rid, {})[appt["id"]] = appt
        for rid in appt["resourceIds"]:
            kind, cap = kinds[rid]
            intervals = []
            for other in by_resource[rid].values():
                if other["status"] not in OCCUPYING_VALUES:
                    continue
                if other["status"] == Status.INITIAL and ts(other["expiresAt"]) <= clock:
                    continue
                before, after = spec["buffers"].get(other["serviceId"], (0, 0))
                spread = sum(1 for x in other["resourceIds"] if kinds[x][0] != "staff") or 1
                intervals.append(
                    (
                        ts(other["start_time"]) - timedelta(minutes=before),
                        ts(other["end_time"]) + timedelta(minutes=after),
                        units_used(kind, cap, other["partySize"], spread),
                    )
                )
            peak = peak_load(intervals)
            assert peak <= cap, f"seq {entry.seq}: {rid} ({kind}) at {peak} of {cap}"
    return len(log)


def _without_commit_flush(url: str) -> str:
    """On PostgreSQL, the same database with synchronous_commit off for this test's sessions.

    Locks, isolation and visibility are unchanged (what this test is about); only the wait for
    the WAL to reach the disk at each commit goes, which on a shared CI disk would otherwise
    dominate the run time.
    """
    if not url.startswith("postgresql"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = (query.get("options", "") + " -csynchronous_commit=off").strip()
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_soak_never_over_capacity(db_url: str, tmp_path: Path) -> None:
    url = _without_commit_flush(db_url)
    services = build_test_services(tmp_path, url)
    try:
        _soak(services, url, tmp_path)
    finally:
        services.close()


def _soak(services: Services, db_url: str, tmp_path: Path) -> None:
    spec = _setup(services)
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        try:
            got = run_ops(services.booking, spec, seed, OPS_PER_THREAD)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            return
        with lock:
            outcomes.update(got)

    others = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.booking.soak_driver",
                db_url,
                str(tmp_path / f"proc{k}"),
                json.dumps(spec),
                str(99 + k),
                str(OPS_PER_THREAD),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(PROCESSES)
    ]
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for other in others:
        out, err = other.communicate(timeout=300)
        assert other.returncode == 0, err
        outcomes.update(json.loads(out.strip().splitlines()[-1]))
    assert not errors, errors
    total = sum(outcomes.values())
    assert total >= (THREADS + PROCESSES) * OPS_PER_THREAD, outcomes
    assert not [k for k in outcomes if k.split(":")[-1].startswith("5")], outcomes
    # Every kind of operation happened, and both wins and refusals occurred.
    for op in ("hold", "create", "book", "reschedule", "cancel", "expire", "series"):
        assert outcomes[f"{op}:ok"] > 0, (op, outcomes)
    assert outcomes["hold:409"] > 0 and outcomes["book:409"] > 0, outcomes
    # The proof, straight from the database.
    for rid, (peak, cap) in _final_state_peaks(services).items():
        assert peak <= cap, (rid, peak, cap)
    writes = sum(v for k, v in outcomes.items() if k.endswith(":ok") and k != "expire:ok")
    assert _replay_history(services, spec) >= writes
    print("soak outcomes:", dict(sorted(outcomes.items())))
