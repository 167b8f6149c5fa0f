"""Recurring shifts reach staff calendars as recurring events (Google, Graph, CalDAV), repeating
in the business's local time; providers without recurrence get nothing rather than one lone day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from hub.services import Services
from hub.sync.engine import SyncEngine
from tests.conftest import z
from tests.fakes.google_calendar import GoogleCalendarSim
from tests.providers.harness import running
from tests.sync.conftest import drain, google_body, make_worker

PARIS = "Europe/Paris"


@pytest.fixture
def paris(services: Services) -> dict[str, Any]:
    """A Paris location with one staff member (DST matters there)."""
    b = services.booking
    loc = b.create_location({"name": "Chez Minou", "timezone": PARIS})
    res = b.create_resource({"name": "Lea", "locationId": loc["id"], "kind": "staff"})
    return {"location": loc, "resource": res}


def _monday_in_march() -> datetime:
    """A Monday before the next end-of-March DST change, 09:00 Paris (08:00 UTC)."""
    year = datetime.now(UTC).year + 1
    day = datetime(year, 3, 2, 8, 0, tzinfo=UTC)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _shift(services: Services, paris: dict, **extra: Any) -> dict[str, Any]:
    start = _monday_in_march()
    return services.booking.create_shift(
        {
            "resourceId": paris["resource"]["id"],
            "start": z(start),
            "end": z(start + timedelta(hours=8)),
            "rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
            **extra,
        }
    )


def test_google_gets_rrule_and_exdate_in_local_time(
    services: Services, paris: dict, gsim: GoogleCalendarSim, engine: SyncEngine
) -> None:
    services.booking.create_integration(google_body(gsim, {"resourceId": paris["resource"]["id"]}))
    skip = _monday_in_march() + timedelta(days=7)
    shift = _shift(services, paris, exdates=[z(skip)])
    drain(services, make_worker(services, engine))
    [ev] = [
        e
        for e in gsim.live_events("primary")
        if e["extendedProperties"]["private"]["calhubId"] == shift["id"]
    ]
    assert ev["start"]["timeZone"] == PARIS
    local = skip.astimezone(ZoneInfo(PARIS)).strftime("%Y%m%d")
    assert ev["recurrence"] == [
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
        f"EXDATE;TZID={PARIS}:{local}T090000",
    ]
    assert ev["transparency"] == "transparent"  # working hours are not busy time

    services.booking.update_shift(shift["id"], {"rrule": None})
    drain(services, make_worker(services, engine))
    [ev] = [e for e in gsim.live_events("primary") if e["id"] == ev["id"]]
    assert ev["recurrence"] == []  # the rule was dropped in calhub


def test_caldav_gets_a_recurring_vevent_that_keeps_local_time_across_dst(
    services: Services, paris: dict, engine: SyncEngine
) -> None:
    with running("caldav") as h:
        services.booking.create_integration(h.api_body({"resourceId": paris["resource"]["id"]}))
        skip = _monday_in_march() + timedelta(days=7)
        shift = _shift(services, paris, exdates=[z(skip)])
        drain(services, make_worker(services, engine))
        texts = list(h.radicale.list(h.cal_url).values())
        [vevent] = [
            c
            for t in texts
            for c in Calendar.from_ical(t).walk("VEVENT")
            if str(c.get("X-CALHUB-ID")) == f"shift:{shift['id']}"
        ]
        start = vevent.decoded("DTSTART")
        assert str(start.tzinfo) == PARIS
        rule = rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=start)
        excluded = {d.dt for ex in _as_list(vevent.get("EXDATE")) for d in ex.dts}
        days = [d for d in rule if d not in excluded]
        assert len(days) == 9 and skip not in days
        # Every occurrence starts at 09:00 Paris, before and after the switch to summer time.
        assert {d.hour for d in days} == {9}
        assert {d.astimezone(UTC).hour for d in days} == {7, 8}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def test_graph_gets_a_patterned_recurrence(
    services: Services, paris: dict, engine: SyncEngine
) -> None:
    with running("microsoft") as h:
        services.booking.create_integration(h.api_body({"resourceId": paris["resource"]["id"]}))
        shift = _shift(services, paris)
        with_gap = _shift(services, paris, exdates=[z(_monday_in_march() + timedelta(days=7))])
        drain(services, make_worker(services, engine))
        mine = {
            p["value"]: e
            for e in h.server.events("work")
            for p in e.get("singleValueExtendedProperties") or []
        }
        ev = mine[f"shift:{shift['id']}"]
        assert ev["recurrence"]["pattern"] == {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["monday", "wednesday"],
            "firstDayOfWeek": "monday",
        }
        assert ev["recurrence"]["range"] == {
            "type": "numbered",
            "numberOfOccurrences": 10,
            "startDate": _monday_in_march().date().isoformat(),
            "recurrenceTimeZone": PARIS,
        }
        assert ev["start"]["timeZone"] == PARIS and ev["start"]["dateTime"].endswith("09:00:00")
        # Graph cannot leave single days out here: such a shift is not shown at all (not wrong).
        assert f"shift:{with_gap['id']}" not in mine


def test_providers_without_recurrence_get_no_lone_first_day(
    services: Services, paris: dict, engine: SyncEngine
) -> None:
    with running("teamup") as h:
        services.booking.create_integration(h.api_body({"resourceId": paris["resource"]["id"]}))
        shift = _shift(services, paris)
        drain(services, make_worker(services, engine))
        assert [
            e for e in h.server.events() if e.get("remote_id") == f"calhub:shift:{shift['id']}"
        ] == []
