"""Sync engine benchmark: API booking → Google simulator latency, and 1,000 changes drained.

Each figure is printed beside the same path with a null connector (its HTTP calls replaced by
nothing), which isolates the engine's own overhead: outbox claim, state load, remote-link
bookkeeping, settling. Run from the repository root:

    .venv/bin/python bench/sync_bench.py [--bookings 60] [--changes 1000] [--poll 0.5]

Set CALHUB_TEST_DATABASE_URL to run on PostgreSQL (a fresh schema), else a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.providers import REGISTRY  # noqa: E402
from hub.providers.base import (  # noqa: E402
    Capability,
    Connector,
    OutboundEvent,
    PullResult,
    PushResult,
    RemoteRef,
)
from hub.sync.runtime import build_worker  # noqa: E402
from tests.fakes.google_calendar import GoogleCalendarSim  # noqa: E402
from tests.support import Api, LiveServer, build_test_services, isolated_database_url  # noqa: E402


class NullConnector(Connector):
    """Accepts every write instantly and remembers nothing: the engine's overhead alone."""

    name = "null"
    auth_scheme = "api_key"
    capabilities = Capability.PUSH
    seen: set[str] = set()

    def push(self, event: OutboundEvent, existing: RemoteRef | None) -> PushResult:
        NullConnector.seen.add(event.entity_id)
        return PushResult(remote_id=f"null-{event.entity_id}", etag="1")

    def delete(self, ref: RemoteRef) -> None:
        return None

    def pull(self, cursor: dict[str, Any]) -> PullResult:
        return PullResult([], {}, full=not cursor)


def z(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def setup(tmp: Path, url: str, poll: float) -> tuple[Any, dict[str, Any]]:
    services = build_test_services(tmp, url, worker_poll_seconds=poll, sync_poll_seconds=3600.0)
    b = services.booking
    loc = b.create_location({"name": "Bench Café", "timezone": "UTC"})
    area = b.create_resource(
        {"name": "Lounge", "locationId": loc["id"], "kind": "area", "capacity": 10_000}
    )
    svc = b.create_service({"name": "Visit", "locationId": loc["id"], "duration": 60})
    return services, {"location": loc, "area": area, "service": svc}


def connect(
    services: Any, cafe: dict[str, Any], provider: str, sim: GoogleCalendarSim | None
) -> str:
    if provider == "google":
        assert sim is not None
        body = {
            "provider": "google",
            "name": "Bench Google",
            "scope": {"locationId": cafe["location"]["id"]},
            "config": {"calendarId": "bench", "baseUrl": sim.base_url, "tokenUrl": sim.token_url},
            "credentials": sim.grant(),
        }
    else:
        body = {
            "provider": "null",
            "name": "Null",
            "scope": {"locationId": cafe["location"]["id"]},
            "config": {},
            "credentials": {"key": "x"},
        }
    return services.booking.create_integration(body)["id"]


def booking(cafe: dict[str, Any], i: int) -> dict[str, Any]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
        days=2, hours=i % 500
    )
    return {
        "serviceId": cafe["service"]["id"],
        "resourceIds": [cafe["area"]["id"]],
        "start_time": z(start),
        "customer": {"firstName": f"G{i}"},
    }


def latency(provider: str, n: int, poll: float) -> list[float]:
    """Seconds from the API's 201 to the event existing remotely, worker running."""
    with tempfile.TemporaryDirectory() as d, isolated_database_url(Path(d)) as url:
        services, cafe = setup(Path(d), url, poll)
        sim = GoogleCalendarSim().start() if provider == "google" else None
        connect(services, cafe, provider, sim)
        live = LiveServer(services)
        api = Api(live.url, services.booking.create_api_key("bench")["key"])
        worker = build_worker(services)
        worker.start()
        out = []
        try:
            for i in range(n):
                r = api.post("/appointments", json=booking(cafe, i))
                t0 = time.perf_counter()
                rid = r.json()["id"]
                while not _remote_has(provider, sim, rid):
                    time.sleep(0.0005)
                out.append(time.perf_counter() - t0)
        finally:
            worker.stop()
            live.stop()
            if sim:
                sim.stop()
            services.close()
        return out


def _remote_has(provider: str, sim: GoogleCalendarSim | None, rid: str) -> bool:
    if provider != "google":
        return rid in NullConnector.seen
    assert sim is not None
    with sim.lock:
        return any(
            ((e.get("extendedProperties") or {}).get("private") or {}).get("calhubId") == rid
            for e in sim.calendars.get("bench", {}).values()
        )


def thousand(provider: str, n: int) -> tuple[float, int]:
    """Seconds for one worker to push ``n`` queued changes (each a new booking)."""
    with tempfile.TemporaryDirectory() as d, isolated_database_url(Path(d)) as url:
        services, cafe = setup(Path(d), url, 0.05)
        sim = GoogleCalendarSim().start() if provider == "google" else None
        connect(services, cafe, provider, sim)
        for i in range(n):
            services.booking.create(booking(cafe, i))
        worker = build_worker(services)
        worker.jobs = []
        t0 = time.perf_counter()
        delivered = 0
        while True:
            got = worker.run_once()
            if not got:
                break
            delivered += got
        elapsed = time.perf_counter() - t0
        remote = len(sim.live_events("bench")) if sim else len(NullConnector.seen)
        if sim:
            sim.stop()
        services.close()
        return elapsed, remote


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bookings", type=int, default=60)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument(
        "--poll", type=float, default=0.5, help="worker poll interval (the default setting)"
    )
    args = ap.parse_args()
    REGISTRY["null"] = NullConnector
    db = (
        "postgresql"
        if "postgresql" in (__import__("os").environ.get("CALHUB_TEST_DATABASE_URL") or "")
        else "sqlite"
    )
    print(
        f"sync bench on {db}, worker poll {args.poll}s, {args.bookings} API bookings, {args.changes} queued changes"
    )
    lat = {p: latency(p, args.bookings, args.poll) for p in ("google", "null")}
    for p, values in lat.items():
        label = "google simulator" if p == "google" else "null connector  "
        print(
            f"propagation API->remote  {label}: p50 {statistics.median(values) * 1000:7.1f} ms   "
            f"p95 {pct(values, 95) * 1000:7.1f} ms   (n={len(values)})"
        )
    NullConnector.seen.clear()
    g_time, g_remote = thousand("google", args.changes)
    NullConnector.seen.clear()
    n_time, n_remote = thousand("null", args.changes)
    print(
        f"{args.changes} changes drained      google simulator: {g_time:7.2f} s  ({args.changes / g_time:6.0f} changes/s, {g_remote} remote events)"
    )
    print(
        f"{args.changes} changes drained      null connector  : {n_time:7.2f} s  ({args.changes / n_time:6.0f} changes/s, {n_remote} remote events)"
    )
    print(
        f"engine overhead share of the google path: {n_time / g_time * 100:5.1f} %   (HTTP + simulator: {(g_time - n_time) / args.changes * 1000:.2f} ms per change)"
    )


if __name__ == "__main__":
    main()
