"""Connector idempotency under faults: N changes (creates, moves, deletes) pushed through each
simulator failing 30 % of calls with 500, 429 or a timeout-after-apply, retried the way the
sync engine does (minus the sleeping). Prints faults injected, attempts, duplicates and wrong
final states (both must be 0), and the wall time.

    .venv/bin/python -m bench.provider_faults [N] [rate]
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from datetime import timedelta

from hub.providers.base import OutboundEvent, RemoteRef, TransientError
from hub.providers.http import make_session
from tests.providers.harness import HARNESSES, outbound

HANG = 0.4
TIMEOUT = (2.0, 0.25)


def run(name: str, n: int, rate: float) -> None:
    h = HARNESSES[name]()
    try:
        h.fail_randomly(rate, seed=42, hang_seconds=HANG)
        rng = random.Random(7)
        objects = [outbound(summary=f"Soak {i}") for i in range(max(1, n // 3))]
        final: dict[str, OutboundEvent | None] = {}
        refs: dict[str, RemoteRef] = {}
        attempts = 0
        started = time.perf_counter()
        for i in range(n):
            ev = objects[i % len(objects)]
            cur = final.get(ev.entity_id, ev)
            op = "delete" if cur is not None and rng.random() < 0.1 else "push"
            if cur is None:
                op = "push"
                cur = ev
            if op == "push":
                shift = timedelta(minutes=15 * rng.randint(0, 8))
                cur = replace(
                    cur, version=cur.version + 1, start=ev.start + shift, end=ev.end + shift
                )
            while True:
                attempts += 1
                c = type(h.connector())(h.config, h.credentials, make_session(TIMEOUT), h._save)
                try:
                    if op == "delete":
                        if ev.entity_id in refs:
                            c.delete(refs[ev.entity_id])
                            del refs[ev.entity_id]
                        final[ev.entity_id] = None
                    else:
                        res = c.push(cur, refs.get(ev.entity_id))
                        refs[ev.entity_id] = RemoteRef(res.remote_id, res.etag)
                        final[ev.entity_id] = cur
                    break
                except TransientError:
                    continue
        elapsed = time.perf_counter() - started
        injected = h.server.faults.injected  # type: ignore[attr-defined]
        h.fail_randomly(0.0, seed=0)
        dupes = wrong = 0
        for ev in objects:
            remote = h.ours(ev.entity_id)
            want = final.get(ev.entity_id)
            if want is None:
                wrong += len(remote)
                continue
            dupes += max(0, len(remote) - 1)
            stamp = want.start.strftime("%Y%m%dT%H%M")
            if not remote or remote[0]["start"].replace("-", "").replace(":", "")[:13] != stamp:
                wrong += 1
        print(
            f"{name:9s} {n} changes over {len(objects)} objects, {rate:.0%} faults: "
            f"{injected} injected, {attempts} attempts, duplicates {dupes}, wrong final states "
            f"{wrong}, {elapsed:.1f} s"
        )
    finally:
        h.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    for name in HARNESSES:
        run(name, n, rate)


if __name__ == "__main__":
    main()
