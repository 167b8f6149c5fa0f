"""Eight CalDAV clients mix REPORTs and PUTs while the API books: no 5xx, no lost update (a stale
If-Match gets 412), no deadlock. Runs on SQLite and PostgreSQL (the 60 s version is
``bench/caldav_soak.py``)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.store.models import BusyBlock
from tests.caldav.conftest import DemoHub

SLUG = "pawsome-cafe"
SECONDS = float(os.environ.get("CALHUB_SOAK_SECONDS", "8"))
WEEK_QUERY = """<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">
<C:comp-filter name="VEVENT"><C:time-range start="{start:%Y%m%dT%H%M%SZ}" end="{end:%Y%m%dT%H%M%SZ}"/>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""


def busy_ics(uid: str, summary: str) -> str:
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=50)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//soak//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def run_soak(demo: DemoHub, seconds: float) -> dict[str, Any]:
    """The mixed workload; returns status counts, failures and per-object success counts."""
    stop = time.monotonic() + seconds
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    wins: Counter[str] = Counter()
    lock = threading.Lock()
    now = datetime.now(UTC)
    week = {"start": now, "end": now + timedelta(days=7)}
    shared_busy = f"{demo.dav}/leo/busy/soak-shared.ics"
    assert demo.http("leo").put(shared_busy, data=busy_ics("soak-shared", "start")).ok
    booking = next(
        b
        for b in demo.api.get("/appointments", params={"limit": 100}).json()["data"]
        if b["status"] == "BK" and b["start_time"] > now.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    res_url = f"{demo.dav}/manager/{SLUG}-reservations/{booking['uid']}.ics"

    def note(status: int, what: str) -> None:
        with lock:
            statuses[status] += 1
            if status >= 500:
                failures.append(f"{what}: {status}")

    def editor(user: str, url: str, key: str, n: int) -> None:
        s = demo.http(user)
        k = 0
        while time.monotonic() < stop:
            r = s.get(url)
            note(r.status_code, f"GET {url}")
            etag = r.headers.get("ETag")
            text = r.text
            if key == "busy":
                body = busy_ics("soak-shared", f"writer {n} #{k}")
            else:
                body = text.replace(
                    "END:VEVENT", f"X-CALHUB-NOTES:writer {n} #{k}\r\nEND:VEVENT", 1
                )
            time.sleep(random.random() * 0.02)  # let the other writer slip in
            r = s.put(url, data=body, headers={"If-Match": etag or '"none"'})
            note(r.status_code, f"PUT {url}")
            if r.status_code in (200, 201, 204):
                with lock:
                    wins[key] += 1
            elif r.status_code != 412:
                with lock:
                    failures.append(f"PUT {url} answered {r.status_code}: {r.text[:200]}")
            k += 1

    def reader(user: str, coll: str) -> None:
        s = demo.http(user)
        while time.monotonic() < stop:
            r = s.request(
                "REPORT",
                f"{demo.dav}/{user}/{coll}/",
                data=WEEK_QUERY.format(**week),
                headers={"Depth": "1"},
            )
            note(r.status_code, f"REPORT {coll}")
            r = s.request("PROPFIND", f"{demo.dav}/{user}/", headers={"Depth": "1"})
            note(r.status_code, "PROPFIND home")

    def own_busy(user: str) -> None:
        s = demo.http(user)
        k = 0
        while time.monotonic() < stop:
            url = f"{demo.dav}/{user}/busy/soak-{user}-{k % 3}.ics"
            r = s.put(url, data=busy_ics(f"soak-{user}-{k % 3}", f"mine {k}"))
            note(r.status_code, f"PUT {url}")
            k += 1

    def api_booker() -> None:
        loc = demo.location()
        tables = demo.services.queries.list("resources", {"locationId": loc["id"], "kind": "table"})
        k = 0
        while time.monotonic() < stop:
            day = now + timedelta(days=60 + k % 20)
            r = demo.api.post(
                "/appointments/hold",
                json={
                    "locationId": loc["id"],
                    "resourceIds": [tables["data"][k % 4]["id"]],
                    "start_time": day.replace(hour=10 + k % 6, minute=0, second=0).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "end_time": day.replace(hour=11 + k % 6, minute=0, second=0).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                },
            )
            note(r.status_code, "API hold")
            k += 1

    threads = [
        threading.Thread(target=editor, args=("leo", shared_busy, "busy", 1)),
        threading.Thread(target=editor, args=("leo", shared_busy, "busy", 2)),
        threading.Thread(target=editor, args=("manager", res_url, "reservation", 1)),
        threading.Thread(target=editor, args=("manager", res_url, "reservation", 2)),
        threading.Thread(target=reader, args=("manager", f"{SLUG}-reservations")),
        threading.Thread(target=reader, args=("mia", f"{SLUG}-freebusy")),
        threading.Thread(target=own_busy, args=("mia",)),
        threading.Thread(target=own_busy, args=("manager",)),
        threading.Thread(target=api_booker),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    stuck = [t.name for t in threads if t.is_alive()]
    with demo.services.db.reader() as s:
        busy_version = s.scalars(
            select(BusyBlock.version).where(BusyBlock.href == "soak-shared.ics")
        ).one()
    after = demo.api.get(f"/appointments/{booking['id']}").json()
    return {
        "statuses": statuses,
        "failures": failures,
        "stuck": stuck,
        "wins": wins,
        "busy_versions": busy_version - 1,
        "reservation_versions": after["version"] - booking["version"],
    }


def test_eight_clients_and_the_api_at_once(demo: DemoHub) -> None:
    result = run_soak(demo, SECONDS)
    assert result["stuck"] == []  # no deadlock: every client finished
    assert result["failures"] == [], result["failures"][:5]
    assert not any(code >= 500 for code in result["statuses"])
    # No lost update: every accepted PUT built on the version before it.
    assert result["wins"]["busy"] == result["busy_versions"] > 0
    assert result["wins"]["reservation"] == result["reservation_versions"] > 0
    assert result["statuses"][412] > 0  # the racing writers did collide and were told so
