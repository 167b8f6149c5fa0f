"""Invite replies: a customer's ACCEPTED, DECLINED or TENTATIVE, from an iMIP REPLY or a signed link.

Accepted marks the reservation confirmed; declined follows the location's ``decline_policy``
(``cancel``: cancelled by the customer, the slot freed; ``flag``: a note for staff). Every
applied reply is recorded as ``invite.replied`` (webhooks, CalDAV views and the audit trail see
it). A reply that does not match (unknown UID, another attendee, an outdated SEQUENCE, a
cancelled booking) raises ``ReplyRejected`` and changes nothing; the caller logs the reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.booking.base import CommandBase
from hub.booking.reservations import reservation_refs
from hub.booking.unit import Change
from hub.booking.views import reservation_view
from hub.domain.errors import Invalid
from hub.store.models import Customer, Location, Reservation

PARTSTATS = ("ACCEPTED", "DECLINED", "TENTATIVE")
DECLINE_REASON = "declined the invitation"


class ReplyRejected(Invalid):
    """A reply calhub will not act on; the message says why (for the log)."""

    code = "reply_rejected"


class ReplyCommands(CommandBase):
    """Apply customers' answers to their invitations."""

    def _match(
        self, uid: str, attendee: str, sequence: int | None
    ) -> tuple[str, str, str, str, str]:
        """(reservation id, status, policy, cancelled_by, partstat) of the matching booking."""
        with self.db.reader() as s:
            r = s.scalars(select(Reservation).where(Reservation.uid == uid)).first()
            if r is None:
                raise ReplyRejected(f"no reservation has UID {uid}")
            cust = s.get(Customer, r.customer_id) if r.customer_id else None
            if cust is None or not cust.email:
                raise ReplyRejected(f"reservation {r.id} has no customer with an e-mail address")
            if cust.email.strip().lower() != attendee.strip().lower():
                raise ReplyRejected(
                    f"attendee {attendee} is not the customer of reservation {r.id}"
                )
            if sequence is not None and sequence < r.sequence:
                raise ReplyRejected(
                    f"the reply answers SEQUENCE {sequence} but reservation {r.id} is at "
                    f"{r.sequence}: the customer answered an outdated invitation"
                )
            loc = s.get(Location, r.location_id)
            policy = loc.decline_policy if loc else "cancel"
            return r.id, r.status, policy, r.cancelled_by or "", r.attendee_partstat or ""

    def apply_invite_reply(
        self,
        uid: str,
        attendee: str,
        partstat: str,
        *,
        sequence: int | None = None,
        via: str = "imip",
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Apply one attendee's answer; returns the appointment and what was done."""
        partstat = partstat.upper()
        if partstat not in PARTSTATS:
            raise ReplyRejected(f"PARTSTAT {partstat} is not ACCEPTED, DECLINED or TENTATIVE")
        rid, status, policy, cancelled_by, before = self._match(uid, attendee, sequence)
        who = actor or f"customer:{attendee}"
        outcome = partstat.lower()
        if status == "CN":
            # Only a decline that already cancelled it (a redelivered reply) still gets recorded.
            redelivered = partstat == "DECLINED" and cancelled_by == "customer"
            if not redelivered or before == "DECLINED":
                raise ReplyRejected(f"reservation {rid} is cancelled; the reply changes nothing")
            outcome = "cancelled"
        elif partstat == "DECLINED" and policy == "cancel":
            self.cancel(rid, {"by": "customer", "reason": DECLINE_REASON}, actor=who)  # type: ignore[attr-defined]
            outcome = "cancelled"
        elif partstat == "DECLINED":
            outcome = "flagged"
        with self.uow(who) as uow:
            r = self.get(uow.session, Reservation, rid, lock=True)
            r.attendee_partstat = partstat
            if partstat == "ACCEPTED":
                r.confirmed = True
            elif partstat == "DECLINED":
                r.confirmed = False
                if outcome == "flagged":
                    r.flagged = (
                        f"Customer declined the invitation ({via}) on {uow.now:%Y-%m-%d %H:%M} UTC"
                    )
            r.version += 1
            r.updated_at = uow.now
            uow.session.flush()
            view = reservation_view(r)
            uow.record(
                Change(
                    entity="reservation",
                    entity_id=r.id,
                    op="update",
                    event="invite.replied",
                    version=r.version,
                    refs=reservation_refs(r),
                    data={
                        "appointment": view,
                        "attendee": attendee.lower(),
                        "partstat": partstat,
                        "via": via,
                        "outcome": outcome,
                    },
                )
            )
            return {"appointment": view, "partstat": partstat, "outcome": outcome}

    def invite_state(self, reservation_id: str) -> dict[str, Any] | None:
        """What a signed-link page shows: the booking, its SEQUENCE and its location's zone."""
        with self.db.reader() as s:
            r = s.get(Reservation, reservation_id) if isinstance(reservation_id, str) else None
            if r is None:
                return None
            loc = s.get(Location, r.location_id)
            cust = s.get(Customer, r.customer_id) if r.customer_id else None
            return {
                "id": r.id,
                "uid": r.uid,
                "status": r.status,
                "sequence": r.sequence,
                "start": r.start,
                "end": r.end,
                "timezone": loc.timezone if loc else "UTC",
                "location": loc.name if loc else "",
                "customerEmail": cust.email if cust else None,
                "partstat": r.attendee_partstat,
                "confirmed": r.confirmed,
            }
