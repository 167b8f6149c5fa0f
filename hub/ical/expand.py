"""Occurrences of client-supplied iCalendar (busy calendars) via recurring-ical-events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import icalendar
import recurring_ical_events

from hub.domain.timerange import TimeRange


def _as_instant(value: date | datetime, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: take it as UTC rather than guess
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def busy_occurrences(ical_text: str, window: TimeRange) -> list[TimeRange]:
    """Opaque VEVENT occurrences of ``ical_text`` that overlap ``window``, as UTC ranges."""
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
        s, e = _as_instant(start), _as_instant(end, end=True)
        if e <= s:
            e = s + timedelta(seconds=1)
        out.append(TimeRange(s, e))
    return out
