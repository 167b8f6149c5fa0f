"""iTIP (RFC 5546) messages calhub sends and receives over iMIP (RFC 6047). Pure: icalendar only.

Outgoing: METHOD:REQUEST and METHOD:CANCEL calendars built on the per-audience VEVENTs of
``hub.ical.render`` plus ORGANIZER, ATTENDEE (PARTSTAT, RSVP) and VALARM reminders.
Incoming: METHOD:REPLY calendars as Thunderbird, Apple Calendar, Outlook and Gmail write them,
reduced to what calhub acts on (UID, attendee address, PARTSTAT, SEQUENCE).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import icalendar

from hub.ical.model import Audience, ReservationData, TimedItemData
from hub.ical.render import PRODID, reservation_vevent, timed_item_vevent, to_text, vtimezone

REQUEST = "REQUEST"
CANCEL = "CANCEL"
REPLY = "REPLY"
PARTSTATS = ("ACCEPTED", "DECLINED", "TENTATIVE")


@dataclass(frozen=True)
class Party:
    """An ORGANIZER or ATTENDEE: an e-mail address and a display name."""

    email: str
    name: str | None = None


def _cal_address(party: Party, **params: str) -> icalendar.vCalAddress:
    addr = icalendar.vCalAddress(f"mailto:{party.email}")
    if party.name:
        addr.params["CN"] = party.name
    for key, value in params.items():
        addr.params[key.replace("_", "-")] = value
    return addr


def _add_parties(
    ev: icalendar.Event, method: str, organizer: Party, attendee: Party, *, rsvp: bool
) -> None:
    ev.add("ORGANIZER", _cal_address(organizer))
    params = {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT"}
    if method == REQUEST and rsvp:
        params |= {"PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    elif method == REQUEST:
        params |= {"PARTSTAT": "ACCEPTED", "RSVP": "FALSE"}
    ev.add("ATTENDEE", _cal_address(attendee, **params))


def valarm(minutes_before: int, text: str) -> icalendar.Alarm:
    """A display alarm ``minutes_before`` the start (RFC 5545 §3.6.6)."""
    alarm = icalendar.Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", text)
    alarm.add("TRIGGER", timedelta(minutes=-minutes_before))
    return alarm


def _prepare(ev: icalendar.Event, method: str) -> None:
    if method == CANCEL:
        ev.pop("STATUS", None)
        ev.add("STATUS", "CANCELLED")


def reservation_invite(
    d: ReservationData,
    method: str,
    *,
    organizer: Party,
    attendee: Party,
    audience: Audience = Audience.CUSTOMER,
    alarms: Sequence[int] = (),
    rsvp: bool = True,
    sequence: int | None = None,
) -> icalendar.Calendar:
    """A REQUEST or CANCEL for one reservation, addressed to one attendee."""
    ev = reservation_vevent(d, audience)
    if sequence is not None:
        ev.pop("SEQUENCE", None)
        ev.add("SEQUENCE", sequence)
    _prepare(ev, method)
    _add_parties(ev, method, organizer, attendee, rsvp=rsvp)
    if method == REQUEST:
        what = d.service_name or d.event_summary or "Your visit"
        for minutes in sorted(set(alarms), reverse=True):
            ev.add_component(valarm(minutes, f"{what} at {d.location_name}"))
    return itip_calendar([ev], method)


def timed_item_invite(
    d: TimedItemData,
    method: str,
    *,
    organizer: Party,
    attendee: Party,
    sequence: int | None = None,
) -> icalendar.Calendar:
    """A REQUEST or CANCEL for a shift (possibly recurring) sent to the staff member."""
    ev = timed_item_vevent(d, Audience.STAFF)
    if sequence is not None:
        ev.pop("SEQUENCE", None)
        ev.add("SEQUENCE", sequence)
    _prepare(ev, method)
    _add_parties(ev, method, organizer, attendee, rsvp=False)
    return itip_calendar([ev], method)


@lru_cache(maxsize=64)
def _zone(tzid: str, first_year: int, last_year: int) -> icalendar.Timezone:
    # Building a VTIMEZONE walks the zone's transitions: do it once per zone and span of years.
    # The cached component is shared by every calendar that needs it and never modified.
    return vtimezone(tzid, date(first_year, 1, 1), date(last_year, 12, 31))


def _zones(comps: Iterable[icalendar.Component]) -> dict[str, tuple[int, int]]:
    zones: dict[str, tuple[int, int]] = {}
    for comp in comps:
        for prop in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            dt = getattr(comp.get(prop), "dt", None)
            key = getattr(getattr(dt, "tzinfo", None), "key", None)
            if isinstance(dt, datetime) and key and key != "UTC":
                lo, hi = zones.get(key, (dt.year, dt.year))
                span = 3 if comp.get("RRULE") else 0
                zones[key] = (min(lo, dt.year - 1), max(hi, dt.year + 1 + span))
    return zones


def itip_calendar(components: Sequence[icalendar.Component], method: str) -> icalendar.Calendar:
    """A VCALENDAR with METHOD and a VTIMEZONE for every zone the components use (shared,
    cached VTIMEZONE components: serialise the result, do not modify its VTIMEZONEs)."""
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", method)
    for tzid, (lo, hi) in sorted(_zones(components).items()):
        cal.add_component(_zone(tzid, lo, hi))
    for comp in components:
        cal.add_component(comp)
    return cal


def invite_text(cal: icalendar.Calendar) -> str:
    """The calendar as iCalendar text (CRLF line endings)."""
    return to_text(cal)


# ---- incoming replies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One attendee's answer to one event (or one occurrence) in a METHOD:REPLY."""

    uid: str
    attendee: str  # lower-cased e-mail address
    partstat: str
    sequence: int | None
    organizer: str | None
    recurrence_id: datetime | date | None = None


class NotAReply(ValueError):
    """The calendar data is not an iTIP REPLY calhub can act on; the message says why."""


def _address(prop: object) -> str:
    """The e-mail address of a CAL-ADDRESS, preferring the EMAIL parameter (RFC 7986, Apple)."""
    params = getattr(prop, "params", {}) or {}
    email = params.get("EMAIL")
    value = str(email or prop).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return value.strip().strip("<>").lower()


def parse_reply(data: str | bytes) -> list[Reply]:
    """The answers in a METHOD:REPLY calendar; raises NotAReply with the reason otherwise."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as e:
        raise NotAReply(f"calendar data does not parse: {e}") from e
    method = str(cal.get("METHOD", "")).upper()
    if method != REPLY:
        raise NotAReply(f"METHOD is {method or 'missing'}, not REPLY")
    out: list[Reply] = []
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID", "")).strip()
        if not uid:
            raise NotAReply("a VEVENT in the reply has no UID")
        attendees = ev.get("ATTENDEE")
        if attendees is None:
            raise NotAReply(f"the reply for {uid} names no ATTENDEE")
        if not isinstance(attendees, list):
            attendees = [attendees]
        seq = ev.get("SEQUENCE")
        rid = ev.get("RECURRENCE-ID")
        organizer = ev.get("ORGANIZER")
        for att in attendees:
            partstat = str(att.params.get("PARTSTAT", "")).upper()
            if partstat not in PARTSTATS:
                continue  # NEEDS-ACTION / DELEGATED: nothing calhub acts on
            out.append(
                Reply(
                    uid=uid,
                    attendee=_address(att),
                    partstat=partstat,
                    sequence=int(seq) if seq is not None else None,
                    organizer=_address(organizer) if organizer is not None else None,
                    recurrence_id=getattr(rid, "dt", None),
                )
            )
    if not out:
        raise NotAReply("the reply holds no ACCEPTED, DECLINED or TENTATIVE answer")
    return out
