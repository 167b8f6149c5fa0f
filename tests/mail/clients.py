"""iMIP REPLY messages built the way real calendar apps build them.

Thunderbird (Lightning, calItipEmailTransport): ``multipart/mixed`` with ``multipart/alternative``
(text/plain + ``text/calendar; method=REPLY``) and the same calendar as an ``invite.ics``
attachment (``application/ics``); the calendar keeps VTIMEZONE, ORGANIZER, the replying
ATTENDEE with PARTSTAT, UID, SEQUENCE, DTSTAMP and X-MOZ-* properties; subject "Declined: …".

Apple Calendar (macOS/iOS Mail): ``multipart/mixed`` with a text/plain part and the calendar as
an attachment ``text/calendar; method=REPLY; name=iCal-….ics`` in quoted-printable, PRODID
``-//Apple Inc.//macOS …//EN``, ATTENDEE with CN, CUTYPE and an EMAIL parameter,
REQUEST-STATUS:2.0;Success and X-APPLE-/X-CALENDARSERVER- properties.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart

import icalendar


def _reply_event(invite: icalendar.Calendar, attendee: str, partstat: str) -> icalendar.Event:
    src = next(iter(invite.walk("VEVENT")))
    ev = icalendar.Event()
    for prop in ("UID", "SUMMARY", "DTSTART", "DTEND", "SEQUENCE", "ORGANIZER", "LOCATION"):
        if prop in src:
            ev[prop] = src[prop]
    ev.add("DTSTAMP", datetime.now(UTC))
    return ev


def thunderbird_reply(
    invite: icalendar.Calendar, attendee: str, partstat: str, *, sender: str | None = None
) -> EmailMessage:
    """A REPLY as Thunderbird sends it."""
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN")
    cal.add("VERSION", "2.0")
    cal.add("METHOD", "REPLY")
    for tz in invite.walk("VTIMEZONE"):
        cal.add_component(tz)
    ev = _reply_event(invite, attendee, partstat)
    ev.add("CREATED", datetime.now(UTC))
    ev.add("LAST-MODIFIED", datetime.now(UTC))
    addr = icalendar.vCalAddress(f"mailto:{attendee}")
    addr.params.update({"RSVP": "TRUE", "PARTSTAT": partstat, "ROLE": "REQ-PARTICIPANT"})
    ev.add("ATTENDEE", addr)
    ev.add("X-MOZ-RECEIVED-SEQUENCE", str(ev["SEQUENCE"]))
    ev.add("X-MOZ-RECEIVED-DTSTAMP", "20260101T000000Z")
    ev.add("X-MOZ-GENERATION", "1")
    cal.add_component(ev)
    ics = cal.to_ical().decode()
    organizer = str(ev["ORGANIZER"]).split(":", 1)[1]
    word = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}[partstat]
    msg = EmailMessage()
    msg["From"] = sender or attendee
    msg["To"] = organizer
    msg["Subject"] = f"{word}: {ev['SUMMARY']}"
    msg["User-Agent"] = "Mozilla Thunderbird"
    msg.make_mixed()
    alt = MIMEPart()
    alt.set_content(f"{attendee} has {word.lower()} your event invitation.\n")
    alt.add_alternative(ics, subtype="calendar", params={"method": "REPLY"}, charset="utf-8")
    msg.attach(alt)
    att = MIMEPart()
    att.set_content(
        ics.encode(),
        maintype="application",
        subtype="ics",
        disposition="attachment",
        filename="invite.ics",
    )
    msg.attach(att)
    return msg


def apple_reply(
    invite: icalendar.Calendar, attendee: str, partstat: str, *, name: str = "Ann Lee"
) -> EmailMessage:
    """A REPLY as Apple Calendar sends it (the calendar only as an attachment)."""
    cal = icalendar.Calendar()
    cal.add("METHOD", "REPLY")
    cal.add("VERSION", "2.0")
    cal.add("PRODID", "-//Apple Inc.//macOS 14.5//EN")
    for tz in invite.walk("VTIMEZONE"):
        cal.add_component(tz)
    ev = _reply_event(invite, attendee, partstat)
    addr = icalendar.vCalAddress(f"mailto:{attendee}")
    addr.params.update(
        {"CN": name, "CUTYPE": "INDIVIDUAL", "EMAIL": attendee, "PARTSTAT": partstat}
    )
    ev.add("ATTENDEE", addr)
    ev.add("REQUEST-STATUS", "2.0;Success")
    ev.add("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR", "AUTOMATIC")
    ev.add("X-CALENDARSERVER-PRIVATE-COMMENT", "")
    cal.add_component(ev)
    ics = cal.to_ical().decode()
    organizer = str(ev["ORGANIZER"]).split(":", 1)[1]
    msg = EmailMessage()
    msg["From"] = f'"{name}" <{attendee}>'
    msg["To"] = organizer
    msg["Subject"] = f"Invitation: {ev['SUMMARY']} ({partstat.lower()})"
    msg["X-Mailer"] = "iPhone Mail (21F90)"
    msg.set_content(f"{name} has {partstat.lower()} your invitation.\n")
    msg.add_attachment(
        ics,
        subtype="calendar",
        filename=f"iCal-{datetime.now(UTC):%Y%m%d-%H%M%S}.ics",
        params={"method": "REPLY"},
        cte="quoted-printable",
    )
    return msg


def send(port: int, msg: EmailMessage) -> None:
    """Hand a message to the gateway over SMTP."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg)
