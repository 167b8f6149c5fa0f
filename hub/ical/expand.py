"""Occurrences of client-supplied iCalendar (busy calendars) via recurring-ical-events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

import icalendar
import recurring_ical_events

from hub.domain.timerange import TimeRange


def _as_instant(value: date | datetime, local: tzinfo) -> datetime:
    # All-day dates and floating times mean the wall clock of the person whose calendar it
    # is: an all-day event in Paris blocks Paris midnight to midnight, not UTC's.
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=local).astimezone(UTC)
        return value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=local).astimezone(UTC)


def busy_occurrences(ical_text: str, window: TimeRange, local: tzinfo = UTC) -> list[TimeRange]:
    """Opaque VEVENT occurrences of ``ical_text`` overlapping ``window``, as UTC ranges.

    ``local`` is the zone that all-day dates and floating times are read in.
    """
    cal = icalendar.Calendar.from_ical(ical_text)
    out: list[TimeRange] = []
    for ev in recurring_ical_events.of(cal).between(window.start, window.end):
        if str(ev.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = ev.get("DTSTART").dt
        end_prop = ev.get("DTEND")
        if end_prop is not None:
            end = end_prop.dt
        elif ev.get("DURATION") is not None:
            end = start + ev.get("DURATION").dt
        else:
            end = start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(0))
        s, e = _as_instant(start, local), _as_instant(end, local)
        if e <= s:
            e = s + timedelta(seconds=1)
        out.append(TimeRange(s, e))
    return out
