"""Render calhub objects as iCalendar, per audience. Pure: icalendar only, no I/O.

Times are written in the location's zone (TZID + VTIMEZONE) so clients keep recurring items at
the right wall-clock time across daylight-saving changes; every object keeps its stable UID.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from hub.ical.model import Audience, ReservationData, TimedItemData

PRODID = "-//calhub//calhub 0.1//EN"
STATUS_MAP = {
    "IN": "TENTATIVE",
    "BK": "CONFIRMED",
    "seated": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "CN": "CANCELLED",
}
UNAVAILABLE = "Unavailable"


def _local(value: datetime, tz: str) -> datetime:
    return value.astimezone(ZoneInfo(tz))


def _customer_name(d: ReservationData) -> str:
    return " ".join(p for p in (d.customer_first, d.customer_last) if p) or "walk-in"


def reservation_summary(d: ReservationData, audience: Audience) -> str:
    """The one-line title each audience sees."""
    what = d.event_summary or d.service_name or "Reservation"
    if audience == Audience.PUBLIC:
        return UNAVAILABLE
    if audience == Audience.CUSTOMER:
        return f"{what} at {d.location_name}"
    hold = "HOLD: " if d.status == "IN" else ""
    return f"{hold}{what} — {_customer_name(d)} ({d.party_size})"


def reservation_description(d: ReservationData, audience: Audience) -> str:
    """The body text each audience sees (never another customer's contact details)."""
    if audience == Audience.PUBLIC:
        return ""
    lines = []
    if d.service_name:
        lines.append(f"Service: {d.service_name}")
    if d.event_summary:
        lines.append(f"Event: {d.event_summary}")
    lines.append(f"Party size: {d.party_size}")
    if d.resource_names and audience != Audience.CUSTOMER:
        lines.append("Resources: " + ", ".join(d.resource_names))
    if audience in (Audience.MANAGER, Audience.STAFF):
        lines.append(f"Customer: {_customer_name(d)}")
    if audience == Audience.MANAGER:
        if d.customer_email:
            lines.append(f"E-mail: {d.customer_email}")
        if d.customer_phone:
            lines.append(f"Phone: {d.customer_phone}")
    if d.status == "IN" and d.expires_at and audience != Audience.CUSTOMER:
        lines.append(f"Hold expires: {d.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if d.flagged and audience in (Audience.MANAGER, Audience.STAFF):
        lines.append(f"Flag: {d.flagged}")
    if d.notes and audience != Audience.PUBLIC:
        lines.append(f"Notes: {d.notes}")
    return "\n".join(lines)


def reservation_vevent(d: ReservationData, audience: Audience) -> icalendar.Event:
    """A VEVENT for one reservation as ``audience`` may see it."""
    ev = icalendar.Event()
    ev.add("UID", d.uid)
    ev.add("DTSTAMP", d.updated.astimezone(UTC))
    ev.add("CREATED", d.created.astimezone(UTC))
    ev.add("LAST-MODIFIED", d.updated.astimezone(UTC))
    ev.add("DTSTART", _local(d.start, d.timezone))
    ev.add("DTEND", _local(d.end, d.timezone))
    ev.add("SEQUENCE", d.sequence)
    ev.add("SUMMARY", reservation_summary(d, audience))
    ev.add("STATUS", STATUS_MAP.get(d.status, "CONFIRMED"))
    ev.add("TRANSP", "OPAQUE")
    if d.recurrence_id is not None:
        ev.add("RECURRENCE-ID", _local(d.recurrence_id, d.timezone))
    if audience == Audience.PUBLIC:
        ev.add("CLASS", "PRIVATE")
        return ev
    desc = reservation_description(d, audience)
    if desc:
        ev.add("DESCRIPTION", desc)
    place = ", ".join(p for p in (d.location_name, d.location_address) if p)
    if place:
        ev.add("LOCATION", place)
    if d.color:
        ev.add("COLOR", d.color)  # RFC 7986
    ev.add("X-CALHUB-ID", d.id)
    ev.add("X-CALHUB-STATUS", d.status)
    ev.add("X-CALHUB-PARTY-SIZE", str(d.party_size))
    return ev


def timed_item_vevent(d: TimedItemData, audience: Audience) -> icalendar.Event:
    """A VEVENT for a shift, blackout or special event (recurring ones keep their RRULE)."""
    ev = icalendar.Event()
    ev.add("UID", d.uid)
    ev.add("DTSTAMP", d.updated.astimezone(UTC))
    ev.add("CREATED", d.created.astimezone(UTC))
    ev.add("LAST-MODIFIED", d.updated.astimezone(UTC))
    if d.all_day and d.start_date and d.end_date:
        ev.add("DTSTART", d.start_date)
        ev.add("DTEND", d.end_date)
    else:
        ev.add("DTSTART", _local(d.start, d.timezone))
        ev.add("DTEND", _local(d.end, d.timezone))
    ev.add("SEQUENCE", d.sequence)
    ev.add("SUMMARY", UNAVAILABLE if audience == Audience.PUBLIC else d.summary)
    ev.add("TRANSP", "OPAQUE")
    if d.rrule:
        ev.add("RRULE", icalendar.vRecur.from_ical(d.rrule))
        for ex in d.exdates:
            ev.add("EXDATE", _local(ex, d.timezone))
    if audience == Audience.PUBLIC:
        ev.add("CLASS", "PRIVATE")
        return ev
    if d.description:
        ev.add("DESCRIPTION", d.description)
    if d.location_name:
        ev.add("LOCATION", d.location_name)
    if d.categories:
        ev.add("CATEGORIES", list(d.categories))
    ev.add("X-CALHUB-KIND", d.kind)
    ev.add("X-CALHUB-ID", d.id)
    for key, value in d.extra.items():
        ev.add(f"X-CALHUB-{key.upper()}", value)
    return ev


def vtimezone(tzid: str, first: date, last: date) -> icalendar.Timezone:
    """A VTIMEZONE for ``tzid`` covering ``first``..``last`` (what RFC 5545 §3.6.5 requires)."""
    return icalendar.Timezone.from_tzid(tzid, first_date=first, last_date=last)


def calendar(
    components: Iterable[icalendar.Component],
    *,
    method: str | None = None,
    name: str | None = None,
    color: str | None = None,
    refresh: timedelta | None = None,
) -> icalendar.Calendar:
    """A VCALENDAR holding ``components`` plus a VTIMEZONE for every zone they use."""
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    if method:
        cal.add("METHOD", method)
    if name:
        cal.add("NAME", name)  # RFC 7986
        cal.add("X-WR-CALNAME", name)
    if color:
        cal.add("COLOR", color)
    if refresh is not None:
        cal.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
        cal.add("X-PUBLISHED-TTL", icalendar.vDuration(refresh))  # an X- prop defaults to TEXT
    comps = list(components)
    zones: dict[str, tuple[date, date]] = {}
    for comp in comps:
        for prop in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            value = comp.get(prop)
            dt = getattr(value, "dt", None)
            if isinstance(dt, datetime) and dt.tzinfo is not None and hasattr(dt.tzinfo, "key"):
                tzid = dt.tzinfo.key
                lo, hi = zones.get(tzid, (dt.date(), dt.date()))
                hi_dt = dt.date() + timedelta(days=800) if comp.get("RRULE") else dt.date()
                zones[tzid] = (min(lo, dt.date()), max(hi, hi_dt))
    for tzid, (lo, hi) in sorted(zones.items()):
        if tzid != "UTC":
            cal.add_component(vtimezone(tzid, lo - timedelta(days=366), hi + timedelta(days=366)))
    for comp in comps:
        cal.add_component(comp)
    return cal


def to_text(cal: icalendar.Calendar) -> str:
    """Serialise with CRLF line endings, as RFC 5545 requires."""
    return cal.to_ical().decode("utf-8")
