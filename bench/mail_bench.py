"""Benchmark: N bookings' iMIP invites generated and handed to a local SMTP server (aiosmtpd).

    .venv/bin/python bench/mail_bench.py [--bookings 10000] [--database-url URL]

Bookings are made through the booking commands, so the outbox rows are the real fan-out's
(one invite per booking, plus its reminder re-plan). The outbox worker then drains them:
each invite is rendered from the current rows (VEVENT, VTIMEZONE, VALARMs, signed links,
multipart MIME) and sent over one kept-alive SMTP connection to an aiosmtpd server running in
a separate process, which counts what it accepted. Printed: bookings/s, invites/s, the
alternative of rendering without sending (the share SMTP costs), and peak memory — the
process's max RSS (``resource``) and the Python heap peak of the drain (``tracemalloc``, in a
second, smaller pass, because tracing slows Python down several times).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.config import Settings, SmtpSettings  # noqa: E402
from hub.services import build_services  # noqa: E402
from hub.sync.delivery import Delivery  # noqa: E402
from hub.sync.runtime import build_worker  # noqa: E402


def _sink(port: int, ready: multiprocessing.Event, stop: multiprocessing.Event, count) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    ctl = Controller(Counter(), hostname="127.0.0.1", port=port)
    ctl.start()
    ready.set()
    stop.wait()
    ctl.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _services(home: Path, url: str, port: int):  # type: ignore[no-untyped-def]
    settings = Settings(
        home=home,
        database_url=url,
        secret_key="bench-secret",
        smtp=SmtpSettings(host="127.0.0.1", port=port, mail_from="calhub@bench.test"),
        reminder_offsets_minutes=[1440, 120],
    )
    return build_services(settings)


def _book(services, n: int) -> float:  # type: ignore[no-untyped-def]
    b = services.booking
    loc = b.create_location(
        {
            "name": "Bench Café",
            "timezone": "Europe/Paris",
            "email": "hello@bench.test",
            "address": "1 Rue du Banc, Paris",
        }
    )
    table = b.create_resource(
        {"name": "Table", "locationId": loc["id"], "kind": "table", "capacity": 4}
    )
    svc = b.create_service({"name": "Cats & coffee", "locationId": loc["id"], "duration": 60})
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    t0 = time.perf_counter()
    for i in range(n):
        start = first + timedelta(hours=i)
        b.create(
            {
                "serviceId": svc["id"],
                "resourceIds": [table["id"]],
                "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "partySize": 2,
                "notes": f"booking {i}",
                "customer": {"firstName": f"Guest{i}", "email": f"guest{i}@bench.test"},
            }
        )
    return time.perf_counter() - t0


def _drain(services) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    worker = build_worker(services)
    worker.batch = 200
    worker.jobs = []
    done = 0
    t0 = time.perf_counter()
    while True:
        n = worker.run_once()
        if not n:
            break
        done += n
    worker.handlers["mail"].mailer.close()  # type: ignore[attr-defined]
    return done, time.perf_counter() - t0


def _render_only(services, ids: list[tuple[int, int, str, str]]) -> float:  # type: ignore[no-untyped-def]
    handler = build_worker(services).handlers["mail"]
    t0 = time.perf_counter()
    for row_id, seq, rid, email in ids:
        d = Delivery(row_id, seq, "mail", None, None, "k", "appointment.created",
                     {"kind": "invite", "method": "REQUEST", "id": rid, "role": "customer",
                      "sequence": 0, "email": email, "name": "Guest"}, 0)  # fmt: skip
        msg, _ = handler.build(d)  # type: ignore[attr-defined]
        msg.as_bytes()
    return time.perf_counter() - t0


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bookings", type=int, default=10_000)
    ap.add_argument("--traced", type=int, default=1_000, help="bookings in the tracemalloc pass")
    ap.add_argument("--database-url", default=os.environ.get("CALHUB_BENCH_DATABASE_URL", ""))
    args = ap.parse_args()

    port = _free_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    count = multiprocessing.Value("i", 0)
    sink = multiprocessing.Process(target=_sink, args=(port, ready, stop, count), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            services = _services(Path(tmp), args.database_url, port)
            db = services.db.engine.url.get_backend_name()
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            booking_s = _book(services, args.bookings)
            rows, drain_s = _drain(services)
            sent = count.value
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

            from sqlalchemy import select

            from hub.store.models import Customer, Outbox, Reservation

            with services.db.reader() as s:
                sample = s.execute(
                    select(Outbox.id, Outbox.seq, Reservation.id, Customer.email)
                    .join(Reservation, Reservation.id == Outbox.payload["id"].as_string())
                    .join(Customer, Customer.id == Reservation.customer_id)
                    .where(Outbox.target == "mail", Outbox.payload["kind"].as_string() == "invite")
                    .limit(2000)
                ).all()
            render_s = _render_only(services, [tuple(r) for r in sample])
            services.close()

        with tempfile.TemporaryDirectory() as tmp:
            services = _services(Path(tmp), "", port)
            _book(services, args.traced)
            tracemalloc.start()
            _drain(services)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            services.close()
    finally:
        stop.set()
        sink.join(10)

    n = args.bookings
    print(f"mail_bench: {n} bookings on {db}, invites to aiosmtpd on 127.0.0.1:{port}")
    print(f"bookings created:        {n} in {booking_s:.1f} s = {n / booking_s:,.0f} bookings/s")
    print(
        f"outbox drained:          {rows} rows ({n} invites + {rows - n} reminder plans) "
        f"in {drain_s:.1f} s"
    )
    print(
        f"invites accepted by SMTP: {sent} (expected {n}) = {sent / drain_s:,.0f} invites/s end to end"
    )
    per = render_s / len(sample) * 1000
    print(
        f"render only (no SMTP):   {len(sample)} invites in {render_s:.2f} s = {per:.2f} ms/invite; "
        f"end to end {drain_s / n * 1000:.2f} ms/invite (render, send, settle, re-plan reminders)"
    )
    print(
        f"peak memory:             max RSS {rss1 / 1024:.0f} MiB (was {rss0 / 1024:.0f} MiB "
        f"before booking); tracemalloc heap peak while draining {args.traced} invites: "
        f"{peak / 1024 / 1024:.1f} MiB"
    )
    return 0 if sent == n else 1


if __name__ == "__main__":
    sys.exit(main())
