"""Reservation commands: hold, book, create, reschedule, cancel, set status, expire holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.availability import (
    ResourceInfo,
    ScheduleContext,
    check_booking,
    validate_party_size,
)
from hub.booking.base import CommandBase, reject_unknown, require_bool, require_str
from hub.booking.context import load_context, service_info
from hub.booking.retry import retry_transient
from hub.booking.unit import Change, UnitOfWork
from hub.booking.views import reservation_view
from hub.domain.errors import Conflict, Invalid, NotFound
from hub.domain.statuses import Status, check_transition
from hub.domain.timerange import TimeRange, parse_instant
from hub.store.models import (
    Customer,
    Location,
    Reservation,
    ReservationResource,
    Service,
    SpecialEvent,
)
from hub.store.types import new_id

BOOKING_FIELDS = {
    "start_time",
    "end_time",
    "serviceId",
    "locationId",
    "resourceIds",
    "partySize",
    "notes",
    "eventId",
    "channel",
    "externalIds",
    "customer",
    "rrule",
    "allOrNothing",
    "syncExternal",
}
CANCELLERS = ("customer", "staff", "system")
RESCHEDULE_FIELDS = {"start_time", "end_time", "partySize", "resourceIds", "notes", "syncExternal"}


def valid_notes(notes: object) -> str | None:
    """Notes are text of at most 5000 characters, or null."""
    if notes is not None and (not isinstance(notes, str) or len(notes) > 5000):
        raise Invalid("notes must be a string of at most 5000 characters")
    return notes


def check_reschedule_fields(data: dict[str, Any]) -> None:
    """Refuse unknown fields and empty changes in a reschedule request."""
    reject_unknown(data, RESCHEDULE_FIELDS, "rescheduling")
    if not data:
        raise Invalid(
            "nothing to change: give start_time, end_time, partySize, resourceIds or notes"
        )


SCOPES = ("this", "following", "all")
UID_DOMAIN = "calhub"


def reservation_refs(r: Reservation, extra_resources: list[str] | None = None) -> set[str]:
    """Views a reservation appears in (and, on a move, the ones it leaves)."""
    refs = {f"location:{r.location_id}"}
    refs.update(f"resource:{rid}" for rid in r.resource_ids)
    refs.update(f"resource:{rid}" for rid in extra_resources or [])
    if r.customer_id:
        refs.add(f"customer:{r.customer_id}")
    return refs


@dataclass
class BookingRequest:
    """A validated appointment body: what is asked for, before any rule is checked."""

    location: Location
    service: Service | None
    rng: TimeRange
    party_size: int
    resource_ids: list[str]
    event_id: str | None
    sync_external: bool
    notes: str | None
    external: dict[str, str]
    channel: str


class ReservationCommands(CommandBase):
    """Commands on reservations. Each runs in one unit of work (see ``hub.booking.unit``)."""

    # ---- helpers -----------------------------------------------------------------------------

    def _times(self, data: dict[str, Any], service: Service | None) -> TimeRange:
        start = parse_instant(data.get("start_time"), "start_time")
        if data.get("end_time") is not None:
            end = parse_instant(data.get("end_time"), "end_time")
        elif service is not None:
            end = start + timedelta(minutes=service.duration)
        else:
            raise Invalid("end_time is required when no serviceId is given")
        rng = TimeRange(start, end)
        if rng.duration > timedelta(days=31):
            raise Invalid("an appointment cannot last longer than 31 days")
        return rng

    def _resource_ids(self, value: object) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise Invalid("resourceIds must be a non-empty list of resource ids")
        if len(set(value)) != len(value):
            raise Invalid("resourceIds lists the same resource twice")
        if len(value) > 50:
            raise Invalid("resourceIds may name at most 50 resources")
        return list(value)

    def _check(
        self,
        uow: UnitOfWork,
        location: Location,
        service: Service | None,
        resource_ids: list[str],
        rng: TimeRange,
        party_size: int,
        *,
        event_id: str | None = None,
        exclude: list[str] | None = None,
        sync_external: bool = False,
    ) -> None:
        """Lock the resources, load their schedule and apply every rule; raise Conflict if broken."""
        ctx = self._lock_and_load(
            uow,
            location,
            resource_ids,
            rng,
            event_id=event_id,
            exclude=exclude,
            sync_external=sync_external,
        )
        check_booking(
            ctx,
            service_info(service, rng.duration),
            resource_ids,
            rng,
            party_size,
            event_id=event_id,
            sync_external=sync_external,
        )

    def _lock_and_load(
        self,
        uow: UnitOfWork,
        location: Location,
        resource_ids: list[str],
        window: TimeRange,
        *,
        event_id: str | None = None,
        exclude: list[str] | None = None,
        sync_external: bool = False,
    ) -> ScheduleContext:
        """Lock the resources (id order) and load the schedule the rules judge against."""
        session = uow.session
        resources = self.lock_resources(session, resource_ids)
        for res in resources:
            if res.location_id != location.id:
                raise Invalid(f"resource {res.id} belongs to another location")
            if not res.active:
                raise Conflict(f"resource {res.name} is not active", code="resource_inactive")
        if event_id:
            ev = self.get(session, SpecialEvent, event_id, lock=True)
            if ev.location_id != location.id:
                raise Invalid(f"special event {event_id} belongs to another location")
        return load_context(
            session,
            location,
            window,
            uow.now,
            resource_ids=resource_ids,
            exclude_reservation_ids=exclude or [],
            with_busy=sync_external,
            known=[ResourceInfo(r.id, r.kind, r.capacity, r.name) for r in resources],
        )

    def resolve_customer(self, session: Session, spec: object) -> Customer:
        """A customer by ``{"id"}``, else found by e-mail, else created from the given fields."""
        if not isinstance(spec, dict) or not spec:
            raise Invalid(
                'customer must be {"id": …} or {"firstName", "lastName", "email", "phone"}'
            )
        if "id" in spec:
            reject_unknown(spec, {"id"}, "customer")
            return self.get(session, Customer, spec["id"])
        reject_unknown(spec, {"firstName", "lastName", "email", "phone"}, "customer")
        email = require_str(spec, "email", max_len=320, optional=True)
        if email is not None:
            if "@" not in email or " " in email:
                raise Invalid(f"customer email {email!r} is not an e-mail address")
            found = session.scalars(
                select(Customer)
                .where(Customer.email == email.lower())
                .order_by(Customer.created_at)
            ).first()
            if found is not None:
                return found
        first = require_str(spec, "firstName", max_len=120)
        last = require_str(spec, "lastName", max_len=120, optional=True) or ""
        phone = require_str(spec, "phone", max_len=40, optional=True)
        now = self.clock()
        cust = Customer(
            id=new_id(),
            first_name=first,
            last_name=last,
            email=email.lower() if email else None,
            phone=phone,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(cust)
        session.flush()
        return cust

    def _parse_request(self, session: Session, data: dict[str, Any]) -> BookingRequest:
        """Validate an appointment body into a ``BookingRequest`` (no rule checked yet)."""
        reject_unknown(data, BOOKING_FIELDS, "an appointment")
        service = self.get(session, Service, data["serviceId"]) if data.get("serviceId") else None
        loc_id = data.get("locationId") or (service.location_id if service else None)
        if not loc_id:
            raise Invalid("locationId or serviceId is required")
        location = self.get(session, Location, loc_id)
        if service is not None and service.location_id != location.id:
            raise Invalid("the service belongs to another location")
        rng = self._times(data, service)
        party_size = validate_party_size(data.get("partySize", 1))
        resource_ids = self._resource_ids(data.get("resourceIds"))
        event_id = data.get("eventId")
        if event_id is not None and not isinstance(event_id, str):
            raise Invalid("eventId must be a special event id")
        sync_external = require_bool(data, "syncExternal")
        notes = valid_notes(data.get("notes"))
        external = data.get("externalIds") or {}
        if not isinstance(external, dict) or not all(isinstance(v, str) for v in external.values()):
            raise Invalid("externalIds must be an object of strings")
        channel = data.get("channel", "api")
        if not isinstance(channel, str) or not channel or len(channel) > 40:
            raise Invalid("channel must be a short string such as 'api' or 'caldav'")
        return BookingRequest(
            location=location,
            service=service,
            rng=rng,
            party_size=party_size,
            resource_ids=resource_ids,
            event_id=event_id,
            sync_external=sync_external,
            notes=notes,
            external=external,
            channel=channel,
        )

    def _customer_for(
        self, session: Session, data: dict[str, Any], status: Status
    ) -> Customer | None:
        if status != Status.INITIAL or data.get("customer") is not None:
            if data.get("customer") is None:
                raise Invalid("customer is required to book")
            return self.resolve_customer(session, data["customer"])
        return None

    def _insert(
        self,
        uow: UnitOfWork,
        req: BookingRequest,
        rng: TimeRange,
        status: Status,
        customer: Customer | None,
        *,
        series_id: str | None = None,
        recurrence_id: datetime | None = None,
    ) -> Reservation:
        """Add one reservation row (rules already checked by the caller)."""
        svc = service_info(req.service, rng.duration)
        now = uow.now
        rid = new_id()
        r = Reservation(
            id=rid,
            uid=f"{rid}@{UID_DOMAIN}",
            location_id=req.location.id,
            service_id=req.service.id if req.service else None,
            customer_id=customer.id if customer else None,
            event_id=req.event_id,
            series_id=series_id,
            recurrence_id=recurrence_id,
            status=status.value,
            party_size=req.party_size,
            start=rng.start,
            end=rng.end,
            block_start=rng.start - svc.buffer_before,
            block_end=rng.end + svc.buffer_after,
            expires_at=now + timedelta(seconds=req.location.expiration_delay)
            if status == Status.INITIAL
            else None,
            channel=req.channel,
            external_ids=req.external,
            notes=req.notes,
            sequence=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
        r.resources = [
            ReservationResource(resource_id=res_id, position=i)
            for i, res_id in enumerate(req.resource_ids)
        ]
        uow.session.add(r)
        return r

    def _new_reservation(
        self, uow: UnitOfWork, data: dict[str, Any], status: Status
    ) -> Reservation:
        session = uow.session
        req = self._parse_request(session, data)
        if data.get("allOrNothing") is not None:
            raise Invalid("allOrNothing only applies to a recurring booking (with rrule)")
        self._check(
            uow,
            req.location,
            req.service,
            req.resource_ids,
            req.rng,
            req.party_size,
            event_id=req.event_id,
            sync_external=req.sync_external,
        )
        customer = self._customer_for(session, data, status)
        r = self._insert(uow, req, req.rng, status, customer)
        session.flush()
        return r

    def _load_for_update(self, session: Session, reservation_id: str) -> Reservation:
        return self.get(session, Reservation, reservation_id, lock=True)

    def _record(self, uow: UnitOfWork, r: Reservation, op: str, event: str, **extra: Any) -> None:
        uow.record(
            Change(
                entity="reservation",
                entity_id=r.id,
                op=op,
                event=event,
                version=r.version,
                refs=reservation_refs(r, extra.pop("old_resources", None)),
                data={"appointment": reservation_view(r), **extra},
            )
        )

    # ---- commands ----------------------------------------------------------------------------

    @retry_transient
    def hold(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Take a slot for everyone else (status IN) until booked or the location's delay passes."""
        with self.uow(actor, origin) as uow:
            r = self._new_reservation(uow, data, Status.INITIAL)
            self._record(uow, r, "create", "appointment.held")
            return reservation_view(r)

    @retry_transient
    def create(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Book directly (status BK) for a customer."""
        with self.uow(actor, origin) as uow:
            r = self._new_reservation(uow, data, Status.BOOKED)
            self._record(uow, r, "create", "appointment.created")
            return reservation_view(r)

    @retry_transient
    def book(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Turn a live hold into a booking for a customer; an expired hold is refused."""
        reject_unknown(data, {"customer", "notes"}, "booking a hold")
        with self.uow(actor, origin) as uow:
            r = self._load_for_update(uow.session, reservation_id)
            expired = (
                r.status == Status.INITIAL and r.expires_at is not None and r.expires_at <= uow.now
            )
            if expired or (r.status == Status.CANCELLED and r.cancel_reason == "hold expired"):
                raise Conflict(
                    f"hold expired at {r.expires_at:%Y-%m-%dT%H:%M:%SZ}; take a new hold",
                    code="hold_expired",
                )
            if r.status != Status.INITIAL:
                raise Conflict(
                    f"appointment {r.id} is {r.status}, not a hold (IN)", code="not_a_hold"
                )
            if data.get("customer") is None:
                raise Invalid("customer is required to book")
            customer = self.resolve_customer(uow.session, data["customer"])
            self._apply_booking(r, customer.id, data, uow.now)
            uow.session.flush()
            self._record(uow, r, "update", "appointment.created")
            return reservation_view(r)

    @retry_transient
    def reschedule(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Move, resize or re-assign an appointment; re-validated, and nothing changes on conflict."""
        check_reschedule_fields(data)
        with self.uow(actor, origin) as uow:
            session = uow.session
            r = self._load_for_update(session, reservation_id)
            if expected_version is not None and r.version != expected_version:
                from hub.domain.errors import PreconditionFailed

                raise PreconditionFailed(
                    f"appointment {r.id} changed meanwhile (version {r.version}, you had {expected_version})"
                )
            if r.status in (Status.CANCELLED, Status.COMPLETED, Status.NO_SHOW):
                raise Conflict(
                    f"appointment {r.id} is {r.status} and can no longer change",
                    code="not_changeable",
                )
            if r.status == Status.INITIAL and r.expires_at and r.expires_at <= uow.now:
                raise Conflict("hold expired; take a new hold", code="hold_expired")
            service = session.get(Service, r.service_id) if r.service_id else None
            location = self.get(session, Location, r.location_id)
            start = (
                parse_instant(data["start_time"], "start_time") if "start_time" in data else r.start
            )
            if "end_time" in data:
                end = parse_instant(data["end_time"], "end_time")
            elif "start_time" in data:
                end = start + (r.end - r.start)
            else:
                end = r.end
            rng = TimeRange(start, end)
            party = validate_party_size(data.get("partySize", r.party_size))
            old_resources = r.resource_ids
            resource_ids = (
                self._resource_ids(data["resourceIds"]) if "resourceIds" in data else old_resources
            )
            timing_changed = (rng.start, rng.end, party) != (r.start, r.end, r.party_size) or (
                resource_ids != old_resources
            )
            if timing_changed:
                self._check(
                    uow,
                    location,
                    service,
                    resource_ids,
                    rng,
                    party,
                    event_id=r.event_id,
                    exclude=[r.id],
                    sync_external=require_bool(data, "syncExternal"),
                )
            svc = service_info(service, rng.duration)
            significant = (rng.start, rng.end, party) != (r.start, r.end, r.party_size)
            r.start, r.end, r.party_size = rng.start, rng.end, party
            r.block_start = rng.start - svc.buffer_before
            r.block_end = rng.end + svc.buffer_after
            if resource_ids != old_resources:
                r.resources = [
                    ReservationResource(resource_id=res_id, position=i)
                    for i, res_id in enumerate(resource_ids)
                ]
            if "notes" in data:
                r.notes = valid_notes(data["notes"])
            if significant:
                r.sequence += 1  # RFC 5546: a new SEQUENCE when time or attendance changes
            r.version += 1
            r.updated_at = uow.now
            session.flush()
            self._record(
                uow,
                r,
                "update",
                "appointment.updated",
                old_resources=old_resources,
                significant=significant,
            )
            return reservation_view(r)

    @retry_transient
    def cancel(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Cancel an appointment (by customer, staff or system) and free its slot."""
        reject_unknown(data, {"by", "reason"}, "cancelling")
        by, reason = self._cancel_args(data)
        with self.uow(actor, origin) as uow:
            r = self._load_for_update(uow.session, reservation_id)
            if expected_version is not None and r.version != expected_version:
                from hub.domain.errors import PreconditionFailed

                raise PreconditionFailed(f"appointment {r.id} changed meanwhile")
            check_transition(r.status, Status.CANCELLED)
            self._apply_cancel(r, by, reason, uow.now)
            uow.session.flush()
            self._record(uow, r, "update", "appointment.cancelled", by=by, reason=reason)
            return reservation_view(r)

    @staticmethod
    def _cancel_args(data: dict[str, Any]) -> tuple[str, str | None]:
        by = data.get("by", "staff")
        if by not in CANCELLERS:
            raise Invalid(f"by must be one of {', '.join(CANCELLERS)}")
        reason = data.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
            raise Invalid("reason must be a string of at most 2000 characters")
        return by, reason

    @staticmethod
    def _apply_booking(
        r: Reservation, customer_id: str, data: dict[str, Any], now: datetime
    ) -> None:
        """Turn a live hold into a booking for ``customer_id`` (notes validated)."""
        r.customer_id = customer_id
        if "notes" in data:
            r.notes = valid_notes(data["notes"])
        r.status = Status.BOOKED.value
        r.expires_at = None
        r.version += 1
        r.updated_at = now

    @staticmethod
    def _apply_cancel(r: Reservation, by: str, reason: str | None, now: datetime) -> None:
        r.status = Status.CANCELLED.value
        r.cancelled_by = by
        r.cancel_reason = reason
        r.sequence += 1
        r.version += 1
        r.updated_at = now

    @retry_transient
    def set_status(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Move an appointment along an allowed transition (seated, no_show, completed)."""
        reject_unknown(data, {"status"}, "a status change")
        target = data.get("status")
        if target not in ("seated", "no_show", "completed"):
            raise Invalid("status must be seated, no_show or completed (cancel with /cancel)")
        with self.uow(actor, origin) as uow:
            r = self._load_for_update(uow.session, reservation_id)
            previous = r.status
            r.status = check_transition(r.status, target).value
            r.version += 1
            r.updated_at = uow.now
            uow.session.flush()
            self._record(uow, r, "update", "appointment.status_changed", previous=previous)
            return reservation_view(r)

    @retry_transient
    def expire_holds(self, *, limit: int = 500) -> int:
        """Cancel holds whose time ran out (the slot is already free; this records it)."""
        with self.uow("system") as uow:
            rows = list(
                uow.session.scalars(
                    select(Reservation)
                    .where(
                        Reservation.status == Status.INITIAL.value,
                        Reservation.expires_at <= uow.now,
                    )
                    .order_by(Reservation.expires_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for r in rows:
                r.status = Status.CANCELLED.value
                r.cancelled_by = "system"
                r.cancel_reason = "hold expired"
                r.version += 1
                r.updated_at = uow.now
                self._record(
                    uow, r, "update", "appointment.expired", by="system", reason="hold expired"
                )
            return len(rows)

    def get_reservation(self, reservation_id: str) -> dict[str, Any]:
        """One appointment as the API shows it."""
        with self.db.reader() as session:
            r = (
                session.get(Reservation, reservation_id)
                if isinstance(reservation_id, str)
                else None
            )
            if r is None:
                raise NotFound(f"appointment {reservation_id} does not exist")
            return reservation_view(r)


def is_live(r: Reservation, now: datetime) -> bool:
    """True while a reservation holds capacity (an IN hold only until it expires)."""
    if r.status == Status.CANCELLED:
        return False
    return not (r.status == Status.INITIAL and r.expires_at is not None and r.expires_at <= now)
