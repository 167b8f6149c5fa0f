"""Strip a personal calendar object down to busy time ("Unavailable"). Pure: icalendar only.

The free/busy view of a location shows when staff are taken without saying why: every VEVENT
keeps its timing (DTSTART, DTEND/DURATION, RRULE, RDATE, EXDATE, RECURRENCE-ID) and loses
everything else (summary, description, location, attendees, alarms).
"""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar

from hub.ical.render import PRODID, UNAVAILABLE

KEEP = ("UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE")
KEEP_ALSO = ("RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP")
STAMP = datetime(2000, 1, 1, tzinfo=UTC)  # fixed, so one version always renders the same text


def public_busy_text(ical_text: str, uid: str) -> str:
    """The object as "Unavailable" blocks only, under ``uid`` (never the client's own UID)."""
    src = icalendar.Calendar.from_ical(ical_text)
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    for tz in src.walk("VTIMEZONE"):
        cal.add_component(tz)
    for ev in src.walk("VEVENT"):
        out = icalendar.Event()
        for name in KEEP + KEEP_ALSO:
            if name == "UID":
                out.add("UID", uid)
                continue
            value = ev.get(name)
            if value is None:
                continue
            for v in value if isinstance(value, list) else [value]:
                out.add(name, v)
        if out.get("DTSTAMP") is None:
            out.add("DTSTAMP", STAMP)
        out.add("SUMMARY", UNAVAILABLE)
        out.add("CLASS", "PRIVATE")
        cal.add_component(out)
    return cal.to_ical().decode("utf-8")
