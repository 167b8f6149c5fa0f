"""Read side of .ics feeds: resolve a secret token and render its calendar for its audience.

Window: items from 90 days ago to one year ahead (recurring shifts and blackouts are sent once,
with their RRULE, when any occurrence may fall in the window). Cancelled bookings drop out.
The ETag is the SHA-256 of the body, so it changes exactly when the text does; Last-Modified
is the time of the latest change-log entry touching the feed's owner (staff member, customer
or location).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import icalendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.booking.calendar_data import blackout_data, event_data, reservation_data, shift_data
from hub.crypto import token_hash
from hub.domain.timerange import utcnow
from hub.ical.model import Audience
from hub.ical.render import calendar, reservation_vevent, timed_item_vevent, to_text
from hub.store.db import Database
from hub.store.models import (
    Blackout,
    ChangeLog,
    ChangeRef,
    Customer,
    FeedToken,
    Location,
    Reservation,
    ReservationResource,
    Resource,
    Shift,
    SpecialEvent,
)

FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=366)
REFRESH = timedelta(hours=1)
# Bookings a customer sees in their feed; staff and the public also see live holds.
CUSTOMER_STATUSES = ("BK", "seated", "completed", "no_show")
STAFF_STATUSES = ("IN", "BK", "seated", "completed", "no_show")


@dataclass(frozen=True)
class Feed:
    """A rendered feed with its validators."""

    text: str
    etag: str
    last_modified: datetime


class FeedQueries:
    """Token lookup and feed rendering (read-only)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def render_token(self, token: str) -> Feed | None:
        """The feed behind ``token``; None for an unknown or revoked token."""
        if not token or len(token) > 200:
            return None
        with self.db.reader() as s:
            row = s.scalars(
                select(FeedToken).where(FeedToken.token_hash == token_hash(token))
            ).first()
            if row is None or row.revoked_at is not None:
                return None
            return self.render(s, row.scope, row.target_id, fallback=row.created_at)

    def render(
        self, s: Session, scope: str, target_id: str, *, fallback: datetime | None = None
    ) -> Feed | None:
        """The feed of one scope and owner (None when the owner is gone)."""
        now = self.clock()
        lo, hi = now - FEED_PAST, now + FEED_FUTURE
        comps: list[icalendar.Component]
        if scope == "staff":
            res = s.get(Resource, target_id)
            if res is None:
                return None
            comps, name, ref = self._staff(s, res, lo, hi), f"{res.name} — schedule", "resource"
        elif scope == "customer":
            cust = s.get(Customer, target_id)
            if cust is None:
                return None
            comps, name, ref = self._customer(s, cust, lo, hi), "My bookings", "customer"
        elif scope == "location":
            loc = s.get(Location, target_id)
            if loc is None:
                return None
            comps, name, ref = self._location(s, loc, lo, hi, now), f"{loc.name} — busy", "location"
        else:
            return None
        text = to_text(calendar(comps, name=name, refresh=REFRESH))
        changed = s.scalar(
            select(func.max(ChangeLog.at))
            .join(ChangeRef, ChangeRef.seq == ChangeLog.seq)
            .where(ChangeRef.ref == f"{ref}:{target_id}")
        )
        last = max(x for x in (changed, fallback, datetime(2000, 1, 1, tzinfo=now.tzinfo)) if x)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:40] + '"'
        return Feed(text=text, etag=etag, last_modified=last)

    # ---- scopes ------------------------------------------------------------------------------

    def _staff(
        self, s: Session, res: Resource, lo: datetime, hi: datetime
    ) -> list[icalendar.Component]:
        shifts = s.scalars(
            select(Shift)
            .where(Shift.resource_id == res.id, Shift.start < hi, Shift.range_end > lo)
            .order_by(Shift.start, Shift.id)
        )
        out: list[icalendar.Component] = [
            timed_item_vevent(shift_data(s, x), Audience.STAFF) for x in shifts
        ]
        rows = s.scalars(
            select(Reservation)
            .join(ReservationResource, ReservationResource.reservation_id == Reservation.id)
            .where(
                ReservationResource.resource_id == res.id,
                Reservation.status.in_(STAFF_STATUSES),
                Reservation.start < hi,
                Reservation.end > lo,
            )
            .order_by(Reservation.start, Reservation.id)
        )
        now = self.clock()
        for r in rows:
            if r.status == "IN" and r.expires_at is not None and r.expires_at <= now:
                continue
            out.append(reservation_vevent(reservation_data(s, r), Audience.STAFF))
        return out

    def _customer(
        self, s: Session, cust: Customer, lo: datetime, hi: datetime
    ) -> list[icalendar.Component]:
        rows = s.scalars(
            select(Reservation)
            .where(
                Reservation.customer_id == cust.id,
                Reservation.status.in_(CUSTOMER_STATUSES),
                Reservation.start < hi,
                Reservation.end > lo,
            )
            .order_by(Reservation.start, Reservation.id)
        )
        return [reservation_vevent(reservation_data(s, r), Audience.CUSTOMER) for r in rows]

    def _location(
        self, s: Session, loc: Location, lo: datetime, hi: datetime, now: datetime
    ) -> list[icalendar.Component]:
        out: list[icalendar.Component] = []
        for b in s.scalars(
            select(Blackout)
            .where(
                Blackout.location_id == loc.id,
                Blackout.resource_id.is_(None),
                Blackout.start < hi,
                Blackout.range_end > lo,
            )
            .order_by(Blackout.start, Blackout.id)
        ):
            out.append(timed_item_vevent(blackout_data(s, b), Audience.PUBLIC))
        for e in s.scalars(
            select(SpecialEvent)
            .where(
                SpecialEvent.location_id == loc.id,
                SpecialEvent.blocks_regular_bookings.is_(True),
                SpecialEvent.start < hi,
                SpecialEvent.range_end > lo,
            )
            .order_by(SpecialEvent.start, SpecialEvent.id)
        ):
            out.append(timed_item_vevent(event_data(s, e), Audience.PUBLIC))
        for r in s.scalars(
            select(Reservation)
            .where(
                Reservation.location_id == loc.id,
                Reservation.status.in_(STAFF_STATUSES),
                Reservation.start < hi,
                Reservation.end > lo,
            )
            .order_by(Reservation.start, Reservation.id)
        ):
            if r.status == "IN" and r.expires_at is not None and r.expires_at <= now:
                continue
            out.append(reservation_vevent(reservation_data(s, r), Audience.PUBLIC))
        return out
