"""The outbox handler for target ``mail``: renders each message from the CURRENT rows and sends it.

Rendering at send time (not at commit time) means a message retried an hour later never carries
stale times: it shows the booking as it is now. A REQUEST that a later change superseded (the
booking was cancelled or moved again meanwhile, which queued its own message behind this one on
the same stream) is skipped rather than sent twice. Exactly once: the outbox row is the unit and
is settled right after the SMTP server accepts; its Message-ID derives from the row id, so the
one remaining duplicate window (a crash between "250 OK" and settling) is recognisable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from sqlalchemy.orm import Session

from hub.booking.calendar_data import reservation_data, shift_data
from hub.ical.itip import CANCEL, REQUEST, Party, reservation_invite, timed_item_invite, to_text
from hub.ical.model import Audience, TimedItemData
from hub.ical.render import reservation_description, reservation_summary
from hub.mail.compose import Visit, invite_message, message_id, reminder_message
from hub.mail.links import invite_link
from hub.mail.smtp import SmtpMailer
from hub.mail.targets import INVITED_STATUSES
from hub.services import Services
from hub.store.models import Location, Reminder, Reservation, Resource, Shift
from hub.sync.delivery import Delivery

logger = logging.getLogger(__name__)

Built = tuple[Message, str]


class Skip(Exception):
    """Nothing to send for this row any more; the reason is logged."""


class MailHandler:
    """See module docstring. ``plan-reminders`` rows re-plan a booking's reminders instead."""

    def __init__(self, services: Services, mailer: SmtpMailer | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.mailer = mailer or SmtpMailer(services.settings.smtp)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __call__(self, d: Delivery) -> None:
        """Deliver one outbox row (raises DeliveryError when the SMTP server refuses)."""
        kind = d.payload.get("kind")
        if kind == "plan-reminders":
            self.services.booking.plan_reminders(
                d.payload["id"], self.settings.reminder_offsets_minutes
            )
            return
        try:
            msg, rcpt = self.build(d)
        except Skip as why:
            logger.info("mail %s (%s %s) not sent: %s", d.id, kind, d.event, why)
            return
        self.mailer.send(msg, [rcpt])

    def build(self, d: Delivery) -> Built:
        """The message one outbox row stands for, rendered from the current rows."""
        builders: dict[str, Callable[[Session, Delivery], Built]] = {
            "invite": self._reservation_invite,
            "shift": self._shift_invite,
            "reminder": self._reminder,
        }
        builder = builders.get(str(d.payload.get("kind")))
        if builder is None:
            raise Skip(f"unknown mail kind {d.payload.get('kind')!r}")
        with self.services.db.reader() as session:
            return builder(session, d)

    # ---- helpers -----------------------------------------------------------------------------

    def _parties(self, loc: Location | None, p: dict[str, Any]) -> tuple[Party, Party, Party]:
        mail_from = self.settings.smtp.mail_from
        name = loc.name if loc else None
        organizer = Party((loc.email if loc and loc.email else mail_from), name)
        sender = Party(mail_from, name)
        return organizer, sender, Party(str(p["email"]), p.get("name") or None)

    def _links(self, r: Reservation) -> dict[str, str]:
        """Signed accept/decline links for the booking's current SEQUENCE, valid until it ends."""
        exp = int(r.end.timestamp())
        box, base = self.services.secrets, self.settings.base_url
        return {
            "Accept": invite_link(box, base, r.id, "accept", r.sequence, exp),
            "Decline": invite_link(box, base, r.id, "decline", r.sequence, exp),
        }

    def _msg_id(self, d: Delivery) -> str:
        return message_id(d.id, d.seq, self.settings.smtp.mail_from)

    # ---- builders ----------------------------------------------------------------------------

    def _reservation_invite(self, session: Session, d: Delivery) -> Built:
        p = d.payload
        r = session.get(Reservation, p["id"])
        if r is None:
            raise Skip("the reservation no longer exists")
        method, role = p["method"], p.get("role", "customer")
        staff = role == "staff"
        if r.end <= self.clock():
            raise Skip("the visit is over (e.g. a walk-in recorded afterwards)")
        if method == REQUEST:
            if r.status not in INVITED_STATUSES:
                raise Skip(f"superseded: the booking is now {r.status}")
            if r.sequence > int(p.get("sequence", 0)):
                raise Skip("superseded by a later invite on the same stream")
            if staff and p.get("resourceId") not in r.resource_ids:
                raise Skip("superseded: the staff member was unassigned")
        data = reservation_data(session, r)
        loc = session.get(Location, r.location_id)
        organizer, sender, to = self._parties(loc, p)
        audience = Audience.STAFF if staff else Audience.CUSTOMER
        sequence = r.sequence
        if method == CANCEL and r.status != "CN":
            sequence += 1  # a staff member taken off a live booking: their copy goes away
        cal = reservation_invite(
            data,
            method,
            organizer=organizer,
            attendee=to,
            audience=audience,
            alarms=() if staff else self.settings.reminder_offsets_minutes,
            rsvp=not staff,
            sequence=sequence,
        )
        links = self._links(r) if method == REQUEST and not staff else {}
        desc = reservation_description(data, audience)
        visit = Visit(
            title=reservation_summary(data, audience),
            start=r.start,
            end=r.end,
            timezone=data.timezone,
            place=", ".join(x for x in (data.location_name, data.location_address) if x) or None,
            details=tuple(line for line in desc.splitlines() if line),
        )
        kind = (
            "cancel"
            if method == CANCEL
            else "new"
            if d.event == "appointment.created"
            else "update"
        )
        msg = invite_message(
            kind=kind,
            method=method,
            ics=to_text(cal),
            visit=visit,
            sender=sender,
            to=to,
            msg_id=self._msg_id(d),
            now=self.clock(),
            links=links,
            reply_to=organizer.email,
        )
        return msg, to.email

    def _shift_invite(self, session: Session, d: Delivery) -> Built:
        p = d.payload
        method = p["method"]
        shift = session.get(Shift, p["id"])
        if method == REQUEST:
            if shift is None:
                raise Skip("the shift was deleted meanwhile")
            if shift.resource_id != p.get("resourceId"):
                raise Skip("superseded: the shift was reassigned")
            if shift.sequence > int((p.get("shift") or {}).get("sequence", 0)):
                raise Skip("superseded by a later change of the shift")
        if shift is not None and shift.range_end <= self.clock():
            raise Skip("the shift (and every occurrence of it) is over")
        if shift is not None:
            data = shift_data(session, shift)
            loc = session.get(Location, shift.location_id)
            sequence = shift.sequence
        else:
            view = p.get("shift") or {}
            loc = session.get(Location, view.get("locationId"))
            data = _shift_from_view(view, loc, session.get(Resource, p.get("resourceId")))
            sequence = data.sequence + 1  # deleted: a CANCEL above the last REQUEST
        organizer, sender, to = self._parties(loc, p)
        cal = timed_item_invite(data, method, organizer=organizer, attendee=to, sequence=sequence)
        details = [f"Role: {data.extra.get('role')}"] if data.extra.get("role") else []
        if data.rrule:
            details.append(f"Repeats: {data.rrule}")
        visit = Visit(
            title=data.summary + (f" at {loc.name}" if loc else ""),
            start=data.start,
            end=data.end,
            timezone=data.timezone,
            place=loc.address if loc else None,
            details=tuple(details),
        )
        kind = "cancel" if method == CANCEL else "new" if d.event == "shift.created" else "update"
        msg = invite_message(
            kind=kind,
            method=method,
            ics=to_text(cal),
            visit=visit,
            sender=sender,
            to=to,
            msg_id=self._msg_id(d),
            now=self.clock(),
            reply_to=organizer.email,
        )
        return msg, to.email

    def _reminder(self, session: Session, d: Delivery) -> Built:
        p = d.payload
        rem = session.get(Reminder, p["id"])
        r = session.get(Reservation, p["reservationId"])
        if rem is None or r is None:
            raise Skip("the reminder or its reservation no longer exists")
        if rem.cancelled_at is not None:
            raise Skip("the reminder was cancelled")
        if r.status not in INVITED_STATUSES:
            raise Skip(f"the booking is {r.status}")
        if r.start != rem.planned_for_start:
            raise Skip("the booking moved since the reminder was planned")
        data = reservation_data(session, r)
        loc = session.get(Location, r.location_id)
        organizer, sender, to = self._parties(loc, p)
        desc = reservation_description(data, Audience.CUSTOMER)
        visit = Visit(
            title=reservation_summary(data, Audience.CUSTOMER),
            start=r.start,
            end=r.end,
            timezone=data.timezone,
            place=", ".join(x for x in (data.location_name, data.location_address) if x) or None,
            details=tuple(line for line in desc.splitlines() if line),
        )
        msg = reminder_message(
            visit=visit,
            sender=sender,
            to=to,
            msg_id=self._msg_id(d),
            now=self.clock(),
            minutes_before=rem.offset_minutes,
            reply_to=organizer.email,
            links=self._links(r),
        )
        return msg, to.email


def _shift_from_view(
    view: dict[str, Any], loc: Location | None, res: Resource | None
) -> TimedItemData:
    """Calendar data for a deleted shift, from the snapshot its change carried."""
    start = datetime.fromisoformat(str(view["start"]).replace("Z", "+00:00"))
    end = datetime.fromisoformat(str(view["end"]).replace("Z", "+00:00"))
    who = res.name if res else "staff"
    role = view.get("role")
    return TimedItemData(
        kind="shift",
        id=str(view["id"]),
        uid=str(view.get("uid") or f"{view['id']}@calhub"),
        summary=f"Shift: {who}" + (f" ({role})" if role else ""),
        start=start,
        end=end,
        timezone=loc.timezone if loc else "UTC",
        sequence=int(view.get("sequence", 0)),
        version=int(view.get("version", 1)),
        created=start,
        updated=start,
        rrule=view.get("rrule"),
        exdates=tuple(datetime.fromisoformat(x) for x in view.get("exdates") or []),
        location_name=loc.name if loc else None,
        categories=("Shift",),
    )
