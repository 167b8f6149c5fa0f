"""Read what a calendar client PUT and turn it into a change request. Pure: icalendar only.

The CalDAV face maps a client's edit of one of calhub's own objects back to the booking
commands: a reservation's new times, party size and notes; a shift's, event's or blackout's
fields. Everything else in the client's text (alarms, attendees, colours) is ignored, because
calhub re-renders its objects from the database.

Notes travel as ``X-CALHUB-NOTES`` when the client keeps unknown properties (most do), else as
the ``Notes:`` line of DESCRIPTION, which is how calhub renders them for people to edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from hub.domain.errors import BadRequest, Invalid

PARTY_LINE = re.compile(r"^Party size:\s*(\d+)\s*$", re.MULTILINE)
NOTES_LINE = re.compile(r"^Notes:[ \t]?(.*)\Z", re.MULTILINE | re.DOTALL)
ALLOWED_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")


def parse_calendar(text: str) -> icalendar.Calendar:
    """Parse iCalendar text or raise BadRequest naming what is wrong."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as e:  # icalendar raises ValueError and friends
        raise BadRequest(f"the iCalendar data cannot be read: {e}") from e
    if cal.name != "VCALENDAR":
        raise BadRequest("the body must be a VCALENDAR object")
    return cal


def master_event(cal: icalendar.Calendar) -> icalendar.Event:
    """The VEVENT without RECURRENCE-ID (the series master or the single event)."""
    events = [c for c in cal.walk("VEVENT")]
    if not events:
        raise Invalid("the calendar object holds no VEVENT")
    for ev in events:
        if ev.get("RECURRENCE-ID") is None:
            return ev
    return events[0]


def _instant(value: Any, tz: ZoneInfo) -> datetime:
    """A DTSTART/DTEND value as an aware UTC instant (floating times in ``tz``)."""
    dt = value.dt if hasattr(value, "dt") else value
    if isinstance(dt, datetime):
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        return dt.astimezone(UTC)
    if isinstance(dt, date):
        return datetime.combine(dt, time(0), tz).astimezone(UTC)
    raise Invalid("DTSTART/DTEND must be a date or a date-time")


@dataclass(frozen=True)
class EventTimes:
    """The times of a VEVENT as calhub stores them."""

    start: datetime
    end: datetime
    all_day: bool
    start_date: date | None
    end_date: date | None


def event_times(ev: icalendar.Event, tz: ZoneInfo) -> EventTimes:
    """Start and end of a VEVENT (DTEND, DURATION or the RFC 5545 defaults)."""
    if ev.get("DTSTART") is None:
        raise Invalid("the VEVENT has no DTSTART")
    raw_start = ev.get("DTSTART").dt
    all_day = not isinstance(raw_start, datetime)
    start = _instant(raw_start, tz)
    if ev.get("DTEND") is not None:
        raw_end = ev.get("DTEND").dt
        end = _instant(raw_end, tz)
    elif ev.get("DURATION") is not None:
        raw_end = raw_start + ev.get("DURATION").dt
        end = _instant(raw_end, tz)
    else:
        raw_end = raw_start + timedelta(days=1) if all_day else raw_start
        end = _instant(raw_end, tz)
    if end <= start:
        if all_day or end < start:
            raise Invalid("the event ends before it starts")
        end = start + timedelta(minutes=1)
    return EventTimes(
        start,
        end,
        all_day,
        raw_start if all_day else None,
        raw_end if all_day and isinstance(raw_end, date) else None,
    )


def _text(ev: icalendar.Event, name: str) -> str | None:
    value = ev.get(name)
    return None if value is None else str(value)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _party_size(ev: icalendar.Event) -> int | None:
    raw = _text(ev, "X-CALHUB-PARTY-SIZE")
    if raw is None:
        m = PARTY_LINE.search(_text(ev, "DESCRIPTION") or "")
        raw = m.group(1) if m else None
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError as e:
        raise Invalid(f"X-CALHUB-PARTY-SIZE must be a whole number, not {raw!r}") from e


def _notes(ev: icalendar.Event) -> tuple[bool, str | None]:
    """(given, notes): whether the client said anything about notes, and what."""
    if ev.get("X-CALHUB-NOTES") is not None:
        value = str(ev.get("X-CALHUB-NOTES"))
        return True, value or None
    desc = _text(ev, "DESCRIPTION")
    if desc is None:
        return False, None
    m = NOTES_LINE.search(desc.replace("\r\n", "\n"))
    return True, (m.group(1).strip() or None) if m else None


def reservation_change(
    text: str,
    *,
    timezone: str,
    start: datetime,
    end: datetime,
    party_size: int,
    notes: str | None,
) -> dict[str, Any]:
    """The ``reschedule`` request a client's edit of a reservation amounts to ({} = nothing)."""
    cal = parse_calendar(text)
    ev = master_event(cal)
    times = event_times(ev, ZoneInfo(timezone))
    change: dict[str, Any] = {}
    if times.start != start:
        change["start_time"] = _iso(times.start)
    if times.end != end or "start_time" in change:
        change["end_time"] = _iso(times.end)
    party = _party_size(ev)
    if party is not None and party != party_size:
        change["partySize"] = party
    given, new_notes = _notes(ev)
    if given and (new_notes or None) != (notes or None):
        change["notes"] = new_notes
    return change


def is_cancelled(text: str) -> bool:
    """True when the client marked the (master) event STATUS:CANCELLED."""
    ev = master_event(parse_calendar(text))
    return str(ev.get("STATUS", "")).upper() == "CANCELLED"


def _rrule_text(ev: icalendar.Event) -> str | None:
    rule = ev.get("RRULE")
    if rule is None:
        return None
    if isinstance(rule, list):
        if len(rule) > 1:
            raise Invalid("only one RRULE per event is supported")
        rule = rule[0]
    return rule.to_ical().decode("ascii")


def _exdates(ev: icalendar.Event, tz: ZoneInfo) -> list[str]:
    values = ev.get("EXDATE")
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    out = []
    for v in values:
        for d in v.dts:
            out.append(_iso(_instant(d.dt, tz)))
    return out


def timed_item_fields(text: str, kind: str, timezone: str) -> dict[str, Any]:
    """The fields of a shift, special event or blackout as the set-up commands take them."""
    cal = parse_calendar(text)
    ev = master_event(cal)
    tz = ZoneInfo(timezone)
    times = event_times(ev, tz)
    data: dict[str, Any] = {"start": _iso(times.start), "end": _iso(times.end)}
    rrule = _rrule_text(ev)
    data["rrule"] = rrule
    summary = (_text(ev, "SUMMARY") or "").strip()
    if kind == "shift":
        if rrule:
            data["exdates"] = _exdates(ev, tz)
        role = _text(ev, "X-CALHUB-ROLE")
        if role is None:
            m = re.search(r"\(([^()]+)\)\s*$", summary)
            role = m.group(1) if m else None
        if role is not None:
            data["role"] = role or None
    elif kind == "event":
        data["summary"] = summary or "Special event"
        data["description"] = _text(ev, "DESCRIPTION")
        cap = _text(ev, "X-CALHUB-CAPACITY")
        if cap is not None:
            try:
                data["capacity"] = int(cap)
            except ValueError as e:
                raise Invalid("X-CALHUB-CAPACITY must be a whole number") from e
        blocks = _text(ev, "X-CALHUB-BLOCKS-REGULAR-BOOKINGS")
        if blocks is not None:
            data["blocksRegularBookings"] = blocks.strip().lower() == "true"
    elif kind == "blackout":
        data["summary"] = summary
        data["allDay"] = times.all_day
        bk = (_text(ev, "X-CALHUB-BLACKOUT-KIND") or "closure").strip().lower()
        data["kind"] = bk
    return data


def shift_assignee(text: str) -> dict[str, str | None]:
    """Who a client's shift names: X-CALHUB-RESOURCE-ID, an ATTENDEE e-mail, or the summary."""
    ev = master_event(parse_calendar(text))
    rid = _text(ev, "X-CALHUB-RESOURCE-ID")
    attendees = ev.get("ATTENDEE")
    if attendees is not None and not isinstance(attendees, list):
        attendees = [attendees]
    email = None
    for a in attendees or []:
        value = str(a)
        if value.lower().startswith("mailto:"):
            email = value[7:].lower()
            break
    summary = (_text(ev, "SUMMARY") or "").strip()
    m = re.match(r"^Shift:\s*(.+?)(?:\s*\([^()]*\))?$", summary)
    return {"resource_id": rid, "email": email, "name": m.group(1) if m else None}


@dataclass(frozen=True)
class PersonalFacts:
    """What calhub needs to know about a personal-calendar object to index it."""

    component: str
    summary: str | None
    recurring: bool
    transparent: bool


def personal_facts(text: str) -> PersonalFacts:
    """Component, summary, recurrence and transparency of a client's calendar object."""
    cal = parse_calendar(text)
    comps = [c for c in cal.subcomponents if c.name in ALLOWED_COMPONENTS]
    if not comps:
        raise Invalid("the calendar object holds no VEVENT, VTODO or VJOURNAL")
    names = {c.name for c in comps}
    if len(names) > 1:
        raise Invalid("one calendar object may hold only one kind of component")
    master = next((c for c in comps if c.get("RECURRENCE-ID") is None), comps[0])
    recurring = len(comps) > 1 or any(
        c.get(p) is not None for c in comps for p in ("RRULE", "RDATE")
    )
    transparent = str(master.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT"
    summary = master.get("SUMMARY")
    return PersonalFacts(
        component=master.name,
        summary=str(summary)[:2000] if summary is not None else None,
        recurring=recurring,
        transparent=transparent,
    )
