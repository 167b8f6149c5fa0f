"""The codec's output parses strictly and expands to the occurrences the hub holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from hub.domain.recurrence import expand
from hub.domain.timerange import TimeRange
from hub.ical.model import Audience, ReservationData, TimedItemData
from hub.ical.render import calendar, reservation_vevent, timed_item_vevent, to_text

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def _reservation(**kw: object) -> ReservationData:
    base = dict(
        id="r1",
        uid="r1@calhub",
        status="BK",
        start=NOW,
        end=NOW + timedelta(hours=1),
        timezone="Europe/Paris",
        sequence=2,
        version=3,
        created=NOW,
        updated=NOW,
        party_size=4,
        location_name="Pawsome",
        service_name="Cats & coffee",
        customer_first="Ann",
        customer_last="Lee",
        customer_email="ann@example.com",
        customer_phone="+33 6 11 22 33 44",
        notes="window seat",
    )
    base.update(kw)
    return ReservationData(**base)  # type: ignore[arg-type]


def test_public_view_holds_no_customer_details() -> None:
    text = to_text(calendar([reservation_vevent(_reservation(), Audience.PUBLIC)]))
    for secret in ("Ann", "Lee", "ann@example.com", "+33", "window seat", "Cats"):
        assert secret not in text
    assert "SUMMARY:Unavailable" in text


def test_staff_view_has_name_but_no_contact_details() -> None:
    text = to_text(calendar([reservation_vevent(_reservation(), Audience.STAFF)]))
    assert "Ann Lee" in text and "ann@example.com" not in text and "+33" not in text


def test_times_are_local_with_vtimezone_and_parse_strictly() -> None:
    cal = calendar([reservation_vevent(_reservation(), Audience.MANAGER)])
    parsed = icalendar.Calendar.from_ical(to_text(cal))
    ev = next(iter(parsed.walk("VEVENT")))
    assert ev["DTSTART"].params["TZID"] == "Europe/Paris"
    assert ev.decoded("DTSTART").astimezone(UTC) == NOW
    assert any(c.name == "VTIMEZONE" for c in parsed.subcomponents)


def test_recurring_shift_expands_to_the_same_occurrences_as_the_hub() -> None:
    tz = ZoneInfo("Europe/Paris")
    start = datetime(2026, 3, 23, 10, 0, tzinfo=tz).astimezone(UTC)  # Monday before the DST change
    item = TimedItemData(
        kind="shift",
        id="s1",
        uid="s1@calhub",
        summary="Shift: Mia",
        start=start,
        end=start + timedelta(hours=8),
        timezone="Europe/Paris",
        sequence=0,
        version=1,
        created=NOW,
        updated=NOW,
        rrule="FREQ=WEEKLY;BYDAY=MO,WE",
        exdates=(start + timedelta(days=2),),
    )
    window = TimeRange(datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC))
    hub = [
        (r.start, r.end)
        for r in expand(
            item.start, item.end, item.rrule, tz, window, [x.isoformat() for x in item.exdates]
        )
    ]
    cal = icalendar.Calendar.from_ical(to_text(calendar([timed_item_vevent(item, Audience.STAFF)])))
    theirs = sorted(
        (e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
        for e in recurring_ical_events.of(cal).between(window.start, window.end)
    )
    assert theirs == hub
    # 10:00 local on both sides of the change (UTC+1 then UTC+2).
    assert {s.astimezone(tz).hour for s, _ in hub} == {10}
