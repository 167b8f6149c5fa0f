"""A seeded random driver of booking commands, used by the soak test in threads and processes.

Run as ``python -m tests.booking.soak_driver DB_URL HOME SPEC_JSON SEED OPS`` it drives the
same commands from another process and prints a JSON summary of outcomes.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hub.booking.service import BookingService
from hub.domain.errors import HubError

OPS = ("hold", "hold", "create", "book", "reschedule", "cancel", "expire", "series")


def _when(spec: dict[str, Any], r: random.Random) -> str:
    base = datetime.fromisoformat(spec["day"])
    start = base + timedelta(minutes=15 * r.randrange(spec["slots"]))
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_ops(booking: BookingService, spec: dict[str, Any], seed: int, n: int) -> Counter[str]:
    """Run ``n`` random commands; count outcomes. Anything but a HubError propagates."""
    r = random.Random(seed)
    held: list[str] = []  # holds this driver took (to book)
    live: list[str] = []  # appointments this driver made (to move and cancel)
    outcomes: Counter[str] = Counter()
    for i in range(n):
        op = r.choice(OPS)
        if (op == "book" and not held) or (op in ("reschedule", "cancel") and not live):
            op = "hold"
        try:
            if op in ("hold", "create", "series"):
                body: dict[str, Any] = {
                    "serviceId": r.choice(spec["services"]),
                    "resourceIds": r.sample(spec["resources"], r.choice((1, 1, 1, 2))),
                    "start_time": _when(spec, r),
                    "partySize": r.choice((1, 1, 2, 3, 4)),
                }
                if op == "series":
                    body["rrule"] = f"FREQ=DAILY;COUNT={r.randint(2, 4)}"
                    body["allOrNothing"] = r.random() < 0.5
                if op != "hold" or r.random() < 0.1:
                    body["customer"] = {
                        "firstName": "Soak",
                        "email": f"s{seed}-{i % 7}@example.com",
                    }
                call = booking.hold if op == "hold" and "customer" not in body else booking.create
                out = call(body, actor="soak")
                made = [o["id"] for o in out.get("occurrences", [out])]
                live.extend(made)
                if call == booking.hold:
                    held.extend(made)
            elif op == "book" and held:
                target = held.pop(r.randrange(len(held)))
                booking.book(target, {"customer": {"firstName": "B", "email": "b@example.org"}})
            elif op == "reschedule" and live:
                change: dict[str, Any] = {"start_time": _when(spec, r)}
                if r.random() < 0.3:
                    change["partySize"] = r.choice((1, 2, 5))
                if r.random() < 0.2:
                    change["resourceIds"] = r.sample(spec["resources"], 1)
                if r.random() < 0.1:
                    change["scope"] = "following"  # 422 unless it is part of a series
                booking.reschedule(r.choice(live), change, actor="soak")
            elif op == "cancel" and live:
                target = live.pop(r.randrange(len(live)))
                how = {"by": r.choice(("customer", "staff"))}
                if r.random() < 0.1:
                    how["scope"] = "following"
                booking.cancel(target, how, actor="soak")
            else:  # expire
                booking.expire_holds()
                if r.random() < 0.1:
                    time.sleep(0.02)  # let a few holds run out
            outcomes[f"{op}:ok"] += 1
        except HubError as e:
            outcomes[f"{op}:{e.status}"] += 1
    return outcomes


def main(argv: list[str]) -> int:
    """Entry point for the extra process."""
    from tests.support import build_test_services

    url, home, spec_json, seed, n = argv
    services = build_test_services(Path(home), url)
    try:
        outcomes = run_ops(services.booking, json.loads(spec_json), int(seed), int(n))
    finally:
        services.close()
    print(json.dumps(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
