"""Benchmark: availability and booking throughput, each beside the minimal SQL doing the same work.

    python bench/availability_bench.py                      # SQLite file in a temp dir
    python bench/availability_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

(a) Availability for 30 days x 20 resources with ~10,000 existing bookings: calhub's query
    (in-process, and over HTTP) against the minimal SQLAlchemy Core reads of the same rows
    (resources, blackouts, events, live reservations in the window).
(b) Booking throughput with 8 concurrent HTTP clients against a live `calhub serve`, against
    8 threads running the minimal Core transaction for the same rule: lock the resource, read
    the overlapping live reservations, insert the reservation and its resource row, commit.

The bookings are seeded through calhub's own commands (daily series), never behind its back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy import and_, create_engine, insert, not_, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.config import Settings  # noqa: E402
from hub.services import build_services  # noqa: E402
from hub.store.models import (  # noqa: E402
    Blackout,
    Reservation,
    ReservationResource,
    Resource,
    SpecialEvent,
)

DAYS = 30
RESOURCES = 20


def z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pg_schema_url(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    parts = urlsplit(url)
    q = (
        parts.query
        + ("&" if parts.query else "")
        + urlencode({"options": f"-csearch_path={schema}"})
    )

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return urlunsplit(parts._replace(query=q)), drop


def seed(services: Any, target: int) -> dict[str, Any]:
    """A café open 08:00-22:00 with 20 tables and ~``target`` bookings over 30 days."""
    b = services.booking
    hours = {d: [["08:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    loc = b.create_location(
        {
            "name": "Bench Café",
            "timezone": "Europe/Paris",
            "openingHours": hours,
            "slotInterval": 15,
        }
    )
    tables = [
        b.create_resource(
            {"name": f"Table {i}", "locationId": loc["id"], "kind": "table", "capacity": 4}
        )["id"]
        for i in range(RESOURCES)
    ]
    svc = b.create_service({"name": "Coffee", "locationId": loc["id"], "duration": 30})
    first = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    per_table = max(-(-target // (RESOURCES * DAYS)), 1)  # ceil
    made = 0
    for i, table in enumerate(tables):
        for k in range(per_table):
            start = first + timedelta(hours=7, minutes=45 * k + (i % 3) * 15)  # 08:00 Paris +
            out = b.create(
                {
                    "serviceId": svc["id"],
                    "resourceIds": [table],
                    "start_time": z(start),
                    "partySize": 1 + (i + k) % 4,
                    "rrule": f"FREQ=DAILY;COUNT={DAYS}",
                    "customer": {"firstName": "Bench", "email": f"c{i % 50}@example.com"},
                },
                actor="bench",
            )
            made += len(out["occurrences"])
    b.create_blackout(
        {
            "locationId": loc["id"],
            "kind": "closure",
            "start": z(first + timedelta(days=10, hours=12)),
            "end": z(first + timedelta(days=10, hours=16)),
        }
    )
    return {"location": loc, "tables": tables, "service": svc, "first": first, "bookings": made}


def minimal_read(engine: Any, loc_id: str, lo: datetime, hi: datetime, now: datetime) -> int:
    """The same rows availability needs, read with Core: no rules, no slots."""
    with engine.connect() as c:
        n = len(
            c.execute(
                select(Resource.id, Resource.kind, Resource.capacity).where(
                    Resource.location_id == loc_id, Resource.active.is_(True)
                )
            ).all()
        )
        n += len(
            c.execute(
                select(Blackout.start, Blackout.end, Blackout.kind).where(
                    Blackout.location_id == loc_id, Blackout.start < hi, Blackout.range_end > lo
                )
            ).all()
        )
        n += len(
            c.execute(
                select(SpecialEvent.start, SpecialEvent.end).where(
                    SpecialEvent.location_id == loc_id,
                    SpecialEvent.start < hi,
                    SpecialEvent.range_end > lo,
                )
            ).all()
        )
        rows = c.execute(
            select(
                ReservationResource.resource_id,
                Reservation.block_start,
                Reservation.block_end,
                Reservation.party_size,
            )
            .join(Reservation, Reservation.id == ReservationResource.reservation_id)
            .where(
                Reservation.location_id == loc_id,
                Reservation.block_start < hi,
                Reservation.block_end > lo,
                Reservation.status.in_(["IN", "BK", "seated", "completed", "no_show"]),
                not_(and_(Reservation.status == "IN", Reservation.expires_at <= now)),
            )
        ).all()
        return n + len(rows)


def bench_availability(services: Any, setup: dict[str, Any], base_url: str, key: str) -> None:
    first: datetime = setup["first"]
    args = {
        "serviceId": setup["service"]["id"],
        "startDate": first.date().isoformat(),
        "endDate": (first + timedelta(days=DAYS - 1)).date().isoformat(),
    }
    lo, hi = first - timedelta(days=1), first + timedelta(days=DAYS + 1)
    loc_id = setup["location"]["id"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def over_http() -> dict[str, Any]:
        r = session.get(
            base_url + "/api/v1/availability", params={**args, "roundRobin": "BALANCED"}
        )
        r.raise_for_status()
        return r.json()

    runs: dict[str, Callable[[], Any]] = {
        "sql": lambda: minimal_read(services.db.engine, loc_id, lo, hi, datetime.now(UTC)),
        "BALANCED": lambda: services.queries.availability({**args, "roundRobin": "BALANCED"}),
        "NONE": lambda: services.queries.availability({**args, "roundRobin": "NONE"}),
        "HTTP": over_http,
    }
    # Interleaved rounds: a busy machine slows every contender alike; medians per contender.
    times: dict[str, list[float]] = {name: [] for name in runs}
    last: dict[str, Any] = {name: fn() for name, fn in runs.items()}  # warm-up
    for _ in range(7):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            last[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    sql_t, rows = med["sql"], last["sql"]
    head = f"30 days x {RESOURCES} resources, {setup['bookings']} bookings"
    for name, label in (("BALANCED", "BALANCED"), ("NONE", "NONE"), ("HTTP", "BALANCED over HTTP")):
        print(
            f"(a) availability {head}, {label}: calhub {med[name] * 1000:.1f} ms "
            f"({len(last[name]['availableTimes'])} slots) | minimal SQL read {sql_t * 1000:.1f} ms "
            f"({rows} rows) | ratio {med[name] / sql_t:.1f}x",
            flush=True,
        )


def bench_throughput(services: Any, base_url: str, key: str, clients: int, per_client: int) -> None:
    b = services.booking
    loc = b.create_location({"name": "Throughput", "timezone": "UTC"})
    tables = [
        b.create_resource({"name": f"T{i}", "locationId": loc["id"], "kind": "table"})["id"]
        for i in range(clients * 2)
    ]
    svc = b.create_service({"name": "Slot", "locationId": loc["id"], "duration": 30})
    day0 = (datetime.now(UTC) + timedelta(days=60)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    errors: list[str] = []

    def run(worker: Callable[[int], None]) -> float:
        barrier = threading.Barrier(clients + 1)

        def go(n: int) -> None:
            barrier.wait()
            try:
                worker(n)
            except Exception as e:  # noqa: BLE001 - reported
                errors.append(repr(e))

        threads = [threading.Thread(target=go, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    rounds = 4  # interleaved HTTP and SQL rounds, so a busy machine slows both alike
    per_round = max(per_client // rounds, 1)
    offset = {"http": 0, "sql": 0}

    def http_client(n: int) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        for i in range(offset["http"], offset["http"] + per_round):
            # Two clients share each table (alternate slots), so they queue for its lock.
            body = {
                "serviceId": svc["id"],
                "resourceIds": [tables[n // 2]],
                "start_time": z(day0 + timedelta(minutes=30 * (i * 2 + n % 2))),
                "customer": {"firstName": "T", "email": f"t{n}@example.com"},
            }
            r = s.post(base_url + "/api/v1/appointments", json=body, timeout=60)
            if r.status_code != 201:
                errors.append(f"{r.status_code} {r.text[:200]}")

    engine = services.db.write_engine
    customer = b.create_customer({"firstName": "T", "email": "sql@example.com"})["id"]
    is_pg = services.db.url.startswith("postgresql")

    def sql_client(n: int) -> None:
        table = tables[clients + n // 2]  # fresh tables, same pattern
        for i in range(offset["sql"], offset["sql"] + per_round):
            start = day0 + timedelta(minutes=30 * (i * 2 + n % 2))
            end = start + timedelta(minutes=30)
            with engine.begin() as c:  # BEGIN IMMEDIATE on SQLite
                lock = select(Resource.id).where(Resource.id == table)
                c.execute(lock.with_for_update() if is_pg else lock)
                taken = c.execute(
                    select(Reservation.id)
                    .join(ReservationResource)
                    .where(
                        ReservationResource.resource_id == table,
                        Reservation.block_start < end,
                        Reservation.block_end > start,
                        Reservation.status.in_(["IN", "BK"]),
                    )
                ).first()
                if taken:
                    raise RuntimeError("minimal SQL found a clash that should not exist")
                rid = uuid.uuid4().hex
                now = datetime.now(UTC)
                c.execute(
                    insert(Reservation).values(
                        id=rid,
                        uid=f"{rid}@bench",
                        location_id=loc["id"],
                        service_id=svc["id"],
                        customer_id=customer,
                        status="BK",
                        party_size=1,
                        start=start,
                        end=end,
                        block_start=start,
                        block_end=end,
                        channel="api",
                        external_ids={},
                        confirmed=False,
                        sequence=0,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                c.execute(
                    insert(ReservationResource).values(
                        reservation_id=rid, resource_id=table, position=0
                    )
                )

    http_t = sql_t = 0.0
    for _ in range(rounds):
        http_t += run(http_client)
        offset["http"] += per_round
        sql_t += run(sql_client)
        offset["sql"] += per_round
    total = clients * per_round * rounds
    ours, theirs = total / http_t, total / sql_t
    print(
        f"(b) booking throughput, {clients} concurrent clients, {total} bookings: calhub over HTTP "
        f"{ours:.0f}/s | minimal SQL {theirs:.0f}/s | ratio {theirs / ours:.1f}x"
        + (f" | {len(errors)} errors: {errors[:3]}" if errors else ""),
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="", help="SQLAlchemy URL (default: a temporary SQLite file)")
    p.add_argument("--bookings", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--per-client", type=int, default=40)
    opts = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="calhub-bench-"))
    drop = None
    url = opts.db
    if url.startswith("postgresql"):
        url, drop = pg_schema_url(url)
    settings = Settings(home=home, database_url=url, secret_key="bench-secret")
    services = build_services(settings)
    key = services.booking.create_api_key("bench")["key"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALHUB_")}
    env.update(
        {"CALHUB_HOME": str(home), "CALHUB_SECRET_KEY": "bench-secret", "CALHUB_THREADS": "16"}
    )
    if url:
        env["CALHUB_DATABASE_URL"] = url
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        setup = seed(services, opts.bookings)
        print(
            f"seeded {setup['bookings']} bookings through calhub commands in "
            f"{time.perf_counter() - t0:.1f} s ({services.db.engine.dialect.name})",
            flush=True,
        )
        for _ in range(100):
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        bench_availability(services, setup, base, key)
        bench_throughput(services, base, key, opts.clients, opts.per_client)
    finally:
        server.terminate()
        server.wait(30)
        services.close()
        if drop:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
