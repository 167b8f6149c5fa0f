"""Plain data the codec renders: built from rows by ``hub.booking.calendar_data``, no ORM here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class Audience(enum.StrEnum):
    """Who will read the rendered calendar; decides which details it may contain."""

    MANAGER = "manager"  # everything
    STAFF = "staff"  # customer's name, party size and notes; no e-mail or phone
    CUSTOMER = "customer"  # their own booking: service, place, times
    PUBLIC = "public"  # "Unavailable" blocks only: no names, no details


@dataclass(frozen=True)
class ReservationData:
    """A reservation with everything any audience might see."""

    id: str
    uid: str
    status: str
    start: datetime
    end: datetime
    timezone: str
    sequence: int
    version: int
    created: datetime
    updated: datetime
    party_size: int
    location_name: str
    location_address: str | None = None
    location_email: str | None = None
    service_name: str | None = None
    color: str | None = None
    resource_names: tuple[str, ...] = ()
    customer_first: str | None = None
    customer_last: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    notes: str | None = None
    expires_at: datetime | None = None
    event_summary: str | None = None  # special event this booking is for
    confirmed: bool = False
    flagged: str | None = None
    recurrence_id: datetime | None = None


@dataclass(frozen=True)
class TimedItemData:
    """A shift, blackout or special event (possibly recurring, in its local zone)."""

    kind: str  # shift | blackout | event
    id: str
    uid: str
    summary: str
    start: datetime
    end: datetime
    timezone: str
    sequence: int
    version: int
    created: datetime
    updated: datetime
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    all_day: bool = False
    start_date: date | None = None
    end_date: date | None = None
    description: str | None = None
    location_name: str | None = None
    categories: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # X-CALHUB-* properties
