"""The one source of truth: every table calhub keeps.

Only ``hub.booking`` writes these tables (DESIGN.md rule 2); everything else reads them.
Instants are UTC (``UTCDateTime``) with the location's IANA zone beside them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.store.types import UTCDateTime, new_id

ID = String(32)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    from sqlalchemy import MetaData

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Versioned:
    """Columns every synchronised object carries: a stable iCalendar UID and a version."""

    uid: Mapped[str] = mapped_column(String(255), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every change
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Location(Base):
    """A café, restaurant or venue with its own time zone, hours and hold policy."""

    __tablename__ = "locations"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    expiration_delay: Mapped[int] = mapped_column(Integer, default=600)  # seconds a hold lives
    # {"mon": [["09:00", "18:00"]], ...}; NULL means always open.
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    slot_interval: Mapped[int] = mapped_column(
        Integer, default=15
    )  # minutes between offered starts
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)  # iMIP ORGANIZER
    address: Mapped[str | None] = mapped_column(Text, nullable=True)  # iCalendar LOCATION
    decline_policy: Mapped[str] = mapped_column(String(16), default="cancel")  # cancel | flag
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Service(Base):
    """Something a customer books: duration, buffers, and whether pets are involved."""

    __tablename__ = "services"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    duration: Mapped[int] = mapped_column(Integer)  # minutes
    buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after: Mapped[int] = mapped_column(Integer, default=0)
    involves_pets: Mapped[bool] = mapped_column(Boolean, default=False)
    color: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Resources allowed to deliver this service; NULL means every resource at the location.
    resource_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Resource(Base):
    """A bookable thing: a staff member, a table, a room or an area, with a capacity."""

    __tablename__ = "resources"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    color: Mapped[str | None] = mapped_column(String(16), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by every command that books this resource: the row lock target on PostgreSQL.
    lock_version: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_resources_location", "location_id"),)


class User(Base):
    """A person who logs in (CalDAV, operator pages): a manager or a staff member."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    location_id: Mapped[str | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL"), nullable=True
    )
    # The staff resource this user is (their shifts and assigned reservations).
    resource_id: Mapped[str | None] = mapped_column(
        ForeignKey("resources.id", ondelete="SET NULL"), nullable=True
    )
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AppPassword(Base):
    """A per-device password a user can create and revoke (stored hashed)."""

    __tablename__ = "app_passwords"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Customer(Base):
    """A person who books."""

    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Series(Base):
    """A recurring booking: its RRULE and exceptions stored once; occurrences are reservations."""

    __tablename__ = "series"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    rrule: Mapped[str] = mapped_column(Text)
    dtstart: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reservation(Versioned, Base):
    """A hold (IN) or a booking, for a party, on one or more resources."""

    __tablename__ = "reservations"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    service_id: Mapped[str | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), nullable=True
    )
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )
    event_id: Mapped[str | None] = mapped_column(
        ForeignKey("special_events.id", ondelete="SET NULL"), nullable=True
    )
    series_id: Mapped[str | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), nullable=True
    )
    recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    # start/end widened by the service's buffers: what the resources are actually occupied for.
    block_start: Mapped[datetime] = mapped_column(UTCDateTime)
    block_end: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    channel: Mapped[str] = mapped_column(String(40), default="api")
    external_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # customer accepted the invite
    flagged: Mapped[str | None] = mapped_column(Text, nullable=True)  # a note for staff
    attendee_partstat: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    resources: Mapped[list[ReservationResource]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReservationResource.position"
    )
    __table_args__ = (
        Index("ix_reservations_location_block", "location_id", "block_start", "block_end"),
        Index("ix_reservations_status_expiry", "status", "expires_at"),
        Index("ix_reservations_customer", "customer_id"),
    )

    @property
    def resource_ids(self) -> list[str]:
        """Ids of the resources this reservation takes, in the order given."""
        return [r.resource_id for r in self.resources]


class ReservationResource(Base):
    """One resource taken by a reservation; denormalised times make the overlap check one index."""

    __tablename__ = "reservation_resources"
    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_reservation_resources_resource", "resource_id"),)


class Shift(Versioned, Base):
    """A staff member's working time, possibly recurring."""

    __tablename__ = "shifts"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    role: Mapped[str | None] = mapped_column(String(80), nullable=True)
    rrule: Mapped[str | None] = mapped_column(Text, nullable=True)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    # End of the last occurrence (far future for an endless RRULE): the time-range index key.
    range_end: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_shifts_resource_range", "resource_id", "start", "range_end"),)


class SpecialEvent(Versioned, Base):
    """A special event at a location, with its own capacity; may block regular bookings."""

    __tablename__ = "special_events"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    blocks_regular_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    rrule: Mapped[str | None] = mapped_column(Text, nullable=True)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    range_end: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_special_events_location_range", "location_id", "start", "range_end"),
    )


class Blackout(Versioned, Base):
    """A holiday, closure or no-pets slot, for a whole location or one resource; may recur."""

    __tablename__ = "blackouts"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    resource_id: Mapped[str | None] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # all-day items as dates
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    summary: Mapped[str] = mapped_column(String(300), default="")
    rrule: Mapped[str | None] = mapped_column(Text, nullable=True)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    range_end: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)  # import URL or file name
    __table_args__ = (Index("ix_blackouts_location_range", "location_id", "start", "range_end"),)


class BusyBlock(Base):
    """External busy time for a resource: a personal CalDAV calendar event or a provider's event.

    ``ical`` keeps the client's iCalendar text exactly, so a CalDAV client reads back what it wrote.
    """

    __tablename__ = "busy_blocks"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    resource_id: Mapped[str | None] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), nullable=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=True
    )
    remote_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    href: Mapped[str | None] = mapped_column(String(512), nullable=True)
    uid: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    range_end: Mapped[datetime] = mapped_column(UTCDateTime)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    transparent: Mapped[bool] = mapped_column(Boolean, default=False)
    component: Mapped[str] = mapped_column(String(16), default="VEVENT")
    ical: Mapped[str | None] = mapped_column(Text, nullable=True)
    etag: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Which of the user's personal CalDAV calendars holds it ("busy" blocks availability).
    calendar: Mapped[str] = mapped_column(String(80), default="busy", server_default="busy")
    __table_args__ = (
        Index("ix_busy_blocks_resource_range", "resource_id", "start", "range_end"),
        Index("ix_busy_blocks_user_href", "user_id", "href"),
        UniqueConstraint("integration_id", "remote_id", name="uq_busy_blocks_integration_remote"),
    )


class Counter(Base):
    """Named monotonic counters; the change-log sequence lives here so it is commit-ordered."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ChangeLog(Base):
    """Every change, in commit order: the audit trail and the source of sync tokens and ETags."""

    __tablename__ = "change_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(16))  # create | update | delete
    event: Mapped[str] = mapped_column(String(60))  # e.g. appointment.created
    version: Mapped[int] = mapped_column(Integer, default=1)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    # Integration a change came from: the sync engine never pushes it back there (no echo).
    origin_integration_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id", "seq"),)


class ChangeRef(Base):
    """Which views a change touches (``location:<id>``, ``resource:<id>``, ``user:<id>``).

    A CalDAV sync-collection asks "what changed in my view since seq N" through this index, so
    its cost follows the number of changes, not the size of the collection.
    """

    __tablename__ = "change_refs"
    seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("change_log.seq", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(String(80), primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_change_refs_ref_seq", "ref", "seq"),)


class Outbox(Base):
    """One delivery owed to one target (integration, webhook, mail) for one change."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[str] = mapped_column(String(16))  # integration | webhook | mail
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=True
    )
    webhook_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=True
    )
    # Deliveries for the same (target, object) leave in order.
    object_key: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|done|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_object", "target", "object_key", "id"),
    )


class Integration(Base):
    """A connection to an external system; credentials are encrypted at rest."""

    __tablename__ = "integrations"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[str | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), nullable=True
    )
    resource_id: Mapped[str | None] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), nullable=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="Active")  # Active|Error|Disconnected
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # sync tokens, channels
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RemoteLink(Base):
    """calhub object ⇄ remote object for one integration; unique so a retry never duplicates."""

    __tablename__ = "remote_links"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str] = mapped_column(String(1024))
    remote_etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    synced_version: Mapped[int] = mapped_column(Integer, default=0)
    # Hash of what calhub last wrote: an inbound change equal to it is our own echo.
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("integration_id", "entity", "entity_id", name="uq_remote_links_object"),
        Index("ix_remote_links_remote", "integration_id", "remote_id"),
    )


class Webhook(Base):
    """An outbound webhook subscription of the booking system; its secret is encrypted."""

    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A key the booking system authenticates with; only its SHA-256 is stored."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyKey(Base):
    """The first answer to a request carrying an Idempotency-Key, replayed for repeats."""

    __tablename__ = "idempotency_keys"
    api_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeedToken(Base):
    """A secret .ics feed URL token (stored hashed) for a staff member, customer or location."""

    __tablename__ = "feed_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(16))  # staff | customer | location
    target_id: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Reminder(Base):
    """A reminder owed before a visit; tied to the reservation version it was planned for."""

    __tablename__ = "reminders"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    offset_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_for_start: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        UniqueConstraint(
            "reservation_id",
            "channel",
            "offset_minutes",
            "planned_for_start",
            name="uq_reminders_once",
        ),
        Index("ix_reminders_due", "sent_at", "due_at"),
    )


# Personal CalDAV calendars: the lookups a PUT, a has-uid check and a time-range query need.
Index("ix_busy_blocks_user_cal_uid", BusyBlock.user_id, BusyBlock.calendar, BusyBlock.uid)
Index("ix_busy_blocks_user_cal_range", BusyBlock.user_id, BusyBlock.calendar, BusyBlock.start)


class DavCalendar(Base):
    """A user's CalDAV collection settings: a calendar they created, or their display overrides.

    ``kind`` "personal" is a calendar the user made (MKCALENDAR) whose items live in busy_blocks
    with ``calendar = name``; "view" only keeps the user's display properties (colour, order,
    name) for one of calhub's own collections, so Apple Calendar's PROPPATCH sticks.
    """

    __tablename__ = "dav_calendars"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), default="personal")
    props: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_dav_calendars_user_name"),)
