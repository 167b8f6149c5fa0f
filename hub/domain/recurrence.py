"""Expanding our own recurring items (shifts, blackouts, events) in their local time zone.

RRULEs are evaluated on local wall-clock time, so "every Monday 10:00–14:00 Europe/Paris"
stays at 10:00 local across daylight-saving changes; results are UTC ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from hub.domain.errors import Invalid
from hub.domain.timerange import TimeRange

FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
_ALLOWED_PARTS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
}
_FREQS = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "MINUTELY", "SECONDLY"}


def validate_rrule(rule: object) -> str:
    """Return the RRULE text without a leading ``RRULE:`` or raise Invalid naming the bad part."""
    if not isinstance(rule, str) or not rule.strip():
        raise Invalid("rrule must be a string such as FREQ=WEEKLY;BYDAY=MO")
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        if "=" not in chunk:
            raise Invalid(f"rrule part {chunk!r} is not NAME=VALUE")
        name, value = chunk.split("=", 1)
        name = name.strip().upper()
        if name not in _ALLOWED_PARTS:
            raise Invalid(f"rrule part {name!r} is not a known RFC 5545 recurrence part")
        parts[name] = value
    if parts.get("FREQ", "").upper() not in _FREQS:
        raise Invalid("rrule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY")
    if parts["FREQ"].upper() in ("HOURLY", "MINUTELY", "SECONDLY"):
        raise Invalid("rrule frequencies below DAILY are not supported")
    try:
        rrulestr(_naive_until(text, ZoneInfo("UTC")), dtstart=datetime(2026, 1, 1))
    except (ValueError, TypeError) as e:
        raise Invalid(f"rrule {text!r} is not valid: {e}") from e
    return text


def _naive_until(text: str, tz: ZoneInfo) -> str:
    """Rewrite a UTC ``UNTIL=…Z`` as local wall time, the form a naive-dtstart rule compares."""
    if "UNTIL=" not in text.upper():
        return text
    parts = []
    for chunk in text.split(";"):
        if chunk.upper().startswith("UNTIL="):
            value = chunk.split("=", 1)[1]
            if value.endswith("Z"):
                fmt = "%Y%m%dT%H%M%SZ" if "T" in value else "%Y%m%dZ"
                until = datetime.strptime(value, fmt).replace(tzinfo=UTC).astimezone(tz)
                value = until.strftime("%Y%m%dT%H%M%S")
            chunk = "UNTIL=" + value
        parts.append(chunk)
    return ";".join(parts)


def _rule(rule: str, start: datetime, tz: ZoneInfo):  # noqa: ANN202 - dateutil has no stubs
    local_start = start.astimezone(tz).replace(tzinfo=None)
    return rrulestr(_naive_until(rule, tz), dtstart=local_start)


def occurrence_starts(
    start: datetime, rule: str | None, tz: ZoneInfo, exdates: Iterable[str] = ()
) -> Iterator[datetime]:
    """Yield every occurrence start (UTC) of an item, honouring EXDATEs given as ISO instants."""
    if not rule:
        yield start
        return
    excluded = {datetime.fromisoformat(x).astimezone(UTC) for x in exdates}
    # RFC 5545 §3.8.5.3: DTSTART is always the first instance, even when the rule skips it.
    if start not in excluded:
        yield start
    for local in _rule(rule, start, tz):
        utc = _localize(local, tz)
        if utc <= start or utc in excluded:
            continue
        yield utc


def _localize(local: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a naive wall time; a time skipped by DST moves forward, as clients do."""
    aware = local.replace(tzinfo=tz)
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != local:  # nonexistent local time (spring forward)
        aware = (local + timedelta(hours=1)).replace(tzinfo=tz)
    return aware.astimezone(UTC)


def expand(
    start: datetime,
    end: datetime,
    rule: str | None,
    tz: ZoneInfo,
    window: TimeRange,
    exdates: Iterable[str] = (),
) -> list[TimeRange]:
    """Occurrences of an item (UTC ranges) that overlap ``window``."""
    duration = end - start
    out: list[TimeRange] = []
    if not rule:
        if start < window.end and end > window.start:
            out.append(TimeRange(start, end))
        return out
    # Local duration: an occurrence keeps its wall-clock length across DST.
    local_duration = end.astimezone(tz).replace(tzinfo=None) - start.astimezone(tz).replace(
        tzinfo=None
    )
    for occ in occurrence_starts(start, rule, tz, exdates):
        if occ >= window.end:
            break
        local_end = occ.astimezone(tz).replace(tzinfo=None) + local_duration
        occ_end = _localize(local_end, tz) if local_duration else occ + duration
        if occ_end > window.start:
            out.append(TimeRange(occ, occ_end))
    return out


def range_end(start: datetime, end: datetime, rule: str | None, tz: ZoneInfo) -> datetime:
    """End of the last occurrence; FAR_FUTURE for an endless rule (the time-range index key)."""
    if not rule:
        return end
    upper = rule.upper()
    if "COUNT=" not in upper and "UNTIL=" not in upper:
        return FAR_FUTURE
    last = None
    for i, occ in enumerate(occurrence_starts(start, rule, tz)):
        last = occ
        if i > 100_000:
            return FAR_FUTURE
    if last is None:
        return end
    return last + (end - start) + timedelta(hours=2)  # slack covers a DST-lengthened last one
