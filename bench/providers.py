"""Connector cost per operation against each simulator (and a stock Radicale), beside the same
number of bare HTTP requests to the same server — how much the connector itself adds.

    .venv/bin/python -m bench.providers [N]

Prints p50/p95 latency per push (create, update), the time of a full pull of N events, and the
ratio of connector time to a raw ``requests`` call carrying the same payload.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import requests

from hub.providers.base import RemoteRef
from tests.providers.harness import HARNESSES, Harness, outbound


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _raw_call(h: Harness) -> Callable[[], object]:
    """One bare request resembling a create, straight to the server."""
    s = requests.Session()
    if h.name == "microsoft":
        url = h.config["baseUrl"] + "/me/calendars/work/events"
        hdr = {"Authorization": f"Bearer {h.credentials['accessToken']}"}
        body = {
            "subject": "x",
            "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
        }
        return lambda: s.post(url, json=body, headers=hdr, timeout=10)
    if h.name == "zoho":
        url = h.config["baseUrl"] + f"/calendars/{h.config['calendarUid']}/events"
        hdr = {"Authorization": f"Zoho-oauthtoken {h.credentials['accessToken']}"}
        data = json.dumps(
            {"title": "x", "dateandtime": {"start": "20300101T100000Z", "end": "20300101T110000Z"}}
        )
        return lambda: s.post(url, params={"eventdata": data}, headers=hdr, timeout=10)
    if h.name == "teamup":
        url = h.config["baseUrl"] + f"/{h.config['calendarKey']}/events"
        hdr = {"Teamup-Token": h.credentials["apiKey"]}
        body = {
            "subcalendar_ids": [h.config["subcalendarId"]],
            "title": "x",
            "start_dt": "2030-01-01T10:00:00+00:00",
            "end_dt": "2030-01-01T11:00:00+00:00",
        }
        return lambda: s.post(url, json=body, headers=hdr, timeout=10)
    counter = iter(range(10**9))
    auth = (h.credentials["username"], h.credentials["password"])

    def put() -> object:
        i = next(counter)
        ical = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:raw-{i}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300101T100000Z\r\n"
            "DTEND:20300101T110000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        return s.put(
            h.config["calendarUrl"] + f"raw-{i}.ics",
            data=ical,
            auth=auth,
            headers={"Content-Type": "text/calendar"},
            timeout=10,
        )

    return put


def run(name: str, n: int) -> None:
    h = HARNESSES[name]()
    try:
        events = [outbound(summary=f"Bench {i}") for i in range(n)]
        refs: list[RemoteRef] = []
        it = iter(events)

        def create() -> None:
            res = h.connector().push(next(it), None)
            refs.append(RemoteRef(res.remote_id, res.etag))

        creates = _timed(create, n)
        it2 = iter(zip(events, list(refs), strict=True))

        def update() -> None:
            ev, ref = next(it2)
            h.connector().push(
                replace(
                    ev,
                    version=2,
                    start=ev.start + timedelta(hours=1),
                    end=ev.end + timedelta(hours=1),
                ),
                ref,
            )

        updates = _timed(update, n)
        t = time.perf_counter()
        pulled = h.connector().pull({})
        pull_ms = (time.perf_counter() - t) * 1000
        raw = _timed(_raw_call(h), n)
        p50, raw50 = _pct(creates, 0.5), _pct(raw, 0.5)
        print(
            f"{name:9s} create p50 {p50:6.2f} ms p95 {_pct(creates, 0.95):6.2f} ms | "
            f"update p50 {_pct(updates, 0.5):6.2f} ms p95 {_pct(updates, 0.95):6.2f} ms | "
            f"full pull of {len(pulled.changes)} events {pull_ms:7.1f} ms | "
            f"raw POST/PUT p50 {raw50:5.2f} ms -> connector/raw x{p50 / raw50:4.2f} "
            f"(mean create {statistics.mean(creates):.2f} ms)"
        )
    finally:
        h.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"connector cost per call, {n} events each, simulators on 127.0.0.1")
    for name in HARNESSES:
        run(name, n)


if __name__ == "__main__":
    main()
