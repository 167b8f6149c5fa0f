"""Reminder commands: plan a booking's reminders, and hand due ones to the outbox.

Reminders live in the ``reminders`` table so they survive restarts. ``plan_reminders`` runs after
every change of a booking (an outbox row queued by the change itself): it cancels reminders the
booking no longer needs (cancelled, or moved to another start) and adds the missing ones for the
current start. ``dispatch_due_reminders`` runs in the worker: in one transaction it claims due
reminders, checks the booking is still live and still at the planned start, marks them sent and
records a ``reminder.due`` change, whose mail row the outbox then delivers exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from hub.booking.base import CommandBase
from hub.booking.unit import Change
from hub.domain.timerange import iso_z
from hub.store.models import Customer, Reminder, Reservation
from hub.store.types import new_id

EMAIL = "email"
LIVE = ("BK", "seated")


class ReminderCommands(CommandBase):
    """Planning and dispatching reminders (see module docstring)."""

    def plan_reminders(self, reservation_id: str, offsets_minutes: Iterable[int]) -> int:
        """Bring a booking's reminders in line with its current state; returns how many are owed."""
        offsets = sorted({int(m) for m in offsets_minutes if int(m) > 0})
        with self.uow("system") as uow:
            s = uow.session
            r = s.get(Reservation, reservation_id)
            rows = list(
                s.scalars(
                    select(Reminder)
                    .where(Reminder.reservation_id == reservation_id, Reminder.channel == EMAIL)
                    .with_for_update()
                )
            )
            cust = s.get(Customer, r.customer_id) if r is not None and r.customer_id else None
            live = r is not None and r.status in LIVE and cust is not None and bool(cust.email)
            wanted = {
                (m, r.start) for m in offsets if live and r.start - timedelta(minutes=m) > uow.now
            }
            have = {}
            for rem in rows:
                key = (rem.offset_minutes, rem.planned_for_start)
                have[key] = rem
                if rem.sent_at is None and rem.cancelled_at is None and key not in wanted:
                    rem.cancelled_at = uow.now  # cancelled booking or moved away from this start
                elif rem.sent_at is None and rem.cancelled_at is not None and key in wanted:
                    rem.cancelled_at = None  # moved back to a start it had before
            for minutes, start in sorted(wanted - set(have)):
                s.add(
                    Reminder(
                        id=new_id(),
                        reservation_id=reservation_id,
                        channel=EMAIL,
                        offset_minutes=minutes,
                        due_at=start - timedelta(minutes=minutes),
                        planned_for_start=start,
                    )
                )
            return len(wanted)

    def dispatch_due_reminders(self, *, limit: int = 200) -> int:
        """Claim due reminders of live bookings and queue their mail; returns how many were queued."""
        with self.uow("system") as uow:
            s = uow.session
            due = list(
                s.scalars(
                    select(Reminder)
                    .where(
                        Reminder.sent_at.is_(None),
                        Reminder.cancelled_at.is_(None),
                        Reminder.due_at <= uow.now,
                    )
                    .order_by(Reminder.due_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            queued = 0
            for rem in due:
                r = s.get(Reservation, rem.reservation_id)
                if (
                    r is None
                    or r.status not in LIVE
                    or r.start != rem.planned_for_start
                    or r.start <= uow.now
                ):
                    rem.cancelled_at = uow.now  # never for a cancelled, moved or past visit
                    continue
                rem.sent_at = uow.now
                queued += 1
                uow.record(
                    Change(
                        entity="reminder",
                        entity_id=rem.id,
                        op="update",
                        event="reminder.due",
                        data={
                            "reservationId": r.id,
                            "customerId": r.customer_id,
                            "offsetMinutes": rem.offset_minutes,
                            "plannedStart": iso_z(rem.planned_for_start),
                        },
                    )
                )
            return queued
