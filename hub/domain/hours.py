"""Opening hours: validation and expansion to UTC windows in the location's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.errors import Invalid
from hub.domain.recurrence import _localize
from hub.domain.timerange import TimeRange

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_hhmm(value: object, where: str) -> tuple[int, int]:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise Invalid(f"{where}: {value!r} is not a time in the form HH:MM")
    try:
        hh, mm = int(value[:2]), int(value[3:])
    except ValueError as e:
        raise Invalid(f"{where}: {value!r} is not a time in the form HH:MM") from e
    if not (0 <= hh <= 24 and 0 <= mm < 60) or (hh == 24 and mm):
        raise Invalid(f"{where}: {value!r} is not a valid time of day")
    return hh, mm


def validate_opening_hours(value: object) -> dict[str, list[list[str]]] | None:
    """Check ``{"mon": [["09:00","18:00"]], …}``; None means always open."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid('openingHours must be an object such as {"mon": [["09:00","18:00"]]}')
    out: dict[str, list[list[str]]] = {}
    for day, spans in value.items():
        if day not in DAYS:
            raise Invalid(f"openingHours: {day!r} is not a day; use one of {', '.join(DAYS)}")
        if not isinstance(spans, list):
            raise Invalid(f"openingHours.{day} must be a list of [open, close] pairs")
        clean = []
        for span in spans:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise Invalid(f"openingHours.{day}: each entry must be [open, close]")
            a = _parse_hhmm(span[0], f"openingHours.{day}")
            b = _parse_hhmm(span[1], f"openingHours.{day}")
            if a == b:
                raise Invalid(f"openingHours.{day}: {span[0]}–{span[1]} is empty")
            clean.append([span[0], span[1]])
        out[day] = clean
    return out


def opening_windows(
    hours: dict[str, Any] | None, tz: ZoneInfo, window: TimeRange
) -> list[TimeRange]:
    """UTC windows when the location is open that overlap ``window`` (overnight spans allowed)."""
    if hours is None:
        return [window]
    first: date = window.start.astimezone(tz).date() - timedelta(days=1)
    last: date = window.end.astimezone(tz).date()
    out: list[TimeRange] = []
    day = first
    while day <= last:
        for span in hours.get(DAYS[day.weekday()], []):
            oh, om = _parse_hhmm(span[0], "openingHours")
            ch, cm = _parse_hhmm(span[1], "openingHours")
            start_local = datetime.combine(day, time(oh % 24, om))
            end_day = day + timedelta(days=1) if (ch, cm) <= (oh, om) or ch == 24 else day
            end_local = datetime.combine(end_day, time(ch % 24, cm))
            rng = TimeRange(_localize(start_local, tz), _localize(end_local, tz))
            if rng.overlaps(window):
                out.append(rng)
        day += timedelta(days=1)
    return merge(out)


def merge(ranges: list[TimeRange]) -> list[TimeRange]:
    """Union of ranges, sorted, with touching ranges joined."""
    out: list[TimeRange] = []
    for r in sorted(ranges):
        if out and r.start <= out[-1].end:
            if r.end > out[-1].end:
                out[-1] = TimeRange(out[-1].start, r.end)
        else:
            out.append(r)
    return out
