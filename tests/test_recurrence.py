"""Recurrence and busy-time edge cases that calendar clients produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from hub.domain.recurrence import expand, validate_rrule
from hub.domain.timerange import TimeRange
from hub.ical.expand import busy_occurrences

PARIS = ZoneInfo("Europe/Paris")


def test_until_in_utc_is_accepted_and_honoured() -> None:
    rule = validate_rrule("FREQ=WEEKLY;BYDAY=MO;UNTIL=20270201T235959Z")
    start = datetime(2027, 1, 4, 9, tzinfo=PARIS).astimezone(UTC)
    window = TimeRange(start - timedelta(days=1), start + timedelta(days=90))
    occ = expand(start, start + timedelta(hours=1), rule, PARIS, window)
    assert [o.start.astimezone(PARIS).day for o in occ] == [4, 11, 18, 25, 1]


def test_dtstart_off_the_rule_is_still_the_first_occurrence_as_clients_count_it() -> None:
    # Sunday start with a Monday/Wednesday rule: RFC 5545 counts the Sunday too.
    start = datetime(2027, 3, 7, 10, tzinfo=PARIS).astimezone(UTC)
    end = start + timedelta(hours=2)
    window = TimeRange(start - timedelta(days=1), start + timedelta(days=14))
    ours = [(o.start, o.end) for o in expand(start, end, "FREQ=WEEKLY;BYDAY=MO,WE", PARIS, window)]
    ev = icalendar.Event()
    ev.add("UID", "x")
    ev.add("DTSTART", start.astimezone(PARIS))
    ev.add("DTEND", end.astimezone(PARIS))
    ev.add("RRULE", icalendar.vRecur.from_ical("FREQ=WEEKLY;BYDAY=MO,WE"))
    cal = icalendar.Calendar()
    cal.add_component(ev)
    theirs = sorted(
        (e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
        for e in recurring_ical_events.of(cal).between(window.start, window.end)
    )
    assert ours == theirs
    assert ours[0][0] == start


def test_all_day_busy_event_blocks_the_local_day_not_the_utc_day() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:day-off\r\n"
        "DTSTAMP:20270101T000000Z\r\nDTSTART;VALUE=DATE:20270610\r\nDTEND;VALUE=DATE:20270611\r\n"
        "SUMMARY:Day off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    window = TimeRange(datetime(2027, 6, 9, tzinfo=UTC), datetime(2027, 6, 12, tzinfo=UTC))
    [busy] = busy_occurrences(text, window, PARIS)
    assert busy.start == datetime(2027, 6, 10, 0, tzinfo=PARIS).astimezone(UTC)
    assert busy.end == datetime(2027, 6, 11, 0, tzinfo=PARIS).astimezone(UTC)
