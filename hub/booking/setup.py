"""Set-up commands: locations, services, resources, customers, shifts, blackouts, special events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.booking import fields as f
from hub.booking.catalog import CatalogCommands, Kind
from hub.booking.unit import UnitOfWork
from hub.booking.views import (
    blackout_view,
    customer_view,
    event_view,
    location_view,
    resource_view,
    service_view,
    shift_view,
)
from hub.domain.errors import Conflict, Invalid
from hub.domain.statuses import OCCUPYING_VALUES, ResourceKind
from hub.store.models import (
    Blackout,
    Customer,
    Location,
    Reservation,
    ReservationResource,
    Resource,
    Service,
    Shift,
    SpecialEvent,
)

F = f.Field

LOCATION = Kind(
    Location,
    "location",
    "location",
    "a location",
    {
        "name": F("name", f.text(200), required=True),
        "slug": F("slug", f.slug),
        "timezone": F("timezone", f.timezone, required=True),
        "expirationDelay": F("expiration_delay", f.integer(1, 7 * 86400), default=600),
        "openingHours": F("opening_hours", f.opening_hours, nullable=True),
        "slotInterval": F("slot_interval", f.integer(5, 24 * 60), default=15),
        "email": F("email", f.email, nullable=True),
        "address": F("address", f.text(500), nullable=True),
        "declinePolicy": F("decline_policy", f.choice("cancel", "flag"), default="cancel"),
    },
    location_view,
    lambda o: {f"location:{o.id}"},
)
SERVICE = Kind(
    Service,
    "service",
    "service",
    "a service",
    {
        "name": F("name", f.text(200), required=True),
        "locationId": F("location_id", f.text(32), required=True),
        "duration": F("duration", f.integer(5, 24 * 60), required=True),
        "bufferBefore": F("buffer_before", f.integer(0, 24 * 60), default=0),
        "bufferAfter": F("buffer_after", f.integer(0, 24 * 60), default=0),
        "involvesPets": F("involves_pets", f.boolean, default=False),
        "color": F("color", f.color, nullable=True),
        "resourceIds": F("resource_ids", f.id_list, nullable=True),
    },
    service_view,
    lambda o: {f"location:{o.location_id}"},
)
RESOURCE = Kind(
    Resource,
    "resource",
    "resource",
    "a resource",
    {
        "name": F("name", f.text(200), required=True),
        "locationId": F("location_id", f.text(32), required=True),
        "kind": F("kind", f.choice(*[k.value for k in ResourceKind]), required=True),
        "capacity": F("capacity", f.integer(1, 10_000), default=1),
        "email": F("email", f.email, nullable=True),
        "color": F("color", f.color, nullable=True),
        "active": F("active", f.boolean, default=True),
    },
    resource_view,
    lambda o: {f"location:{o.location_id}", f"resource:{o.id}"},
)
CUSTOMER = Kind(
    Customer,
    "customer",
    "customer",
    "a customer",
    {
        "firstName": F("first_name", f.text(120), required=True),
        "lastName": F("last_name", f.text(120), default=""),
        "email": F("email", f.email, nullable=True),
        "phone": F("phone", f.text(40), nullable=True),
    },
    customer_view,
    lambda o: {f"customer:{o.id}"},
)
SHIFT = Kind(
    Shift,
    "shift",
    "shift",
    "a shift",
    {
        "resourceId": F("resource_id", f.text(32), required=True),
        "start": F("start", f.instant, required=True),
        "end": F("end", f.instant, required=True),
        "role": F("role", f.text(80), nullable=True),
        "rrule": F("rrule", f.rrule, nullable=True),
        "exdates": F(
            "exdates",
            lambda n, v: (
                [f.instant(n, x).isoformat() for x in v] if isinstance(v, list) else f.id_list(n, v)
            ),
            default=list,
        ),
    },
    shift_view,
    lambda o: {f"location:{o.location_id}", f"resource:{o.resource_id}"},
    versioned=True,
    timed=True,
)
BLACKOUT = Kind(
    Blackout,
    "blackout",
    "blackout",
    "a blackout",
    {
        "locationId": F("location_id", f.text(32), required=True),
        "resourceId": F("resource_id", f.text(32), nullable=True),
        "kind": F("kind", f.choice("holiday", "closure", "no_pets"), required=True),
        "start": F("start", f.instant, required=True),
        "end": F("end", f.instant, required=True),
        "allDay": F("all_day", f.boolean, default=False),
        "summary": F("summary", f.text(300), default=""),
        "rrule": F("rrule", f.rrule, nullable=True),
        "source": F("source", f.text(2000), nullable=True),
    },
    blackout_view,
    lambda o: (
        {f"location:{o.location_id}"} | ({f"resource:{o.resource_id}"} if o.resource_id else set())
    ),
    versioned=True,
    timed=True,
)
EVENT = Kind(
    SpecialEvent,
    "event",
    "event",
    "a special event",
    {
        "locationId": F("location_id", f.text(32), required=True),
        "start": F("start", f.instant, required=True),
        "end": F("end", f.instant, required=True),
        "summary": F("summary", f.text(300), required=True),
        "description": F("description", f.text(5000), nullable=True),
        "capacity": F("capacity", f.integer(0, 100_000), default=0),
        "blocksRegularBookings": F("blocks_regular_bookings", f.boolean, default=False),
        "rrule": F("rrule", f.rrule, nullable=True),
    },
    event_view,
    lambda o: {f"location:{o.location_id}"},
    versioned=True,
    timed=True,
)


class SetupCommands(CatalogCommands):
    """Commands that set up what can be booked and when."""

    def _same_location(self, uow: UnitOfWork, obj: Any, *_: Any) -> None:
        """Referenced rows exist and belong to the object's location."""
        # No autoflush: a PATCH naming a missing id must become a 404, not an FK error on flush.
        with uow.session.no_autoflush:
            self._check_references(uow, obj)

    def _check_references(self, uow: UnitOfWork, obj: Any) -> None:
        if getattr(obj, "location_id", None):
            self.get(uow.session, Location, obj.location_id)
        if getattr(obj, "resource_id", None):
            res = self.get(uow.session, Resource, obj.resource_id)
            if isinstance(obj, Shift):
                if res.kind != ResourceKind.STAFF:
                    raise Invalid(f"shifts belong to staff resources; {res.name} is a {res.kind}")
                obj.location_id = res.location_id
            elif res.location_id != obj.location_id:
                raise Invalid(f"resource {res.id} belongs to another location")
        if isinstance(obj, Service) and obj.resource_ids:
            for rid in obj.resource_ids:
                res = self.get(uow.session, Resource, rid)
                if res.location_id != obj.location_id:
                    raise Invalid(f"resource {rid} belongs to another location")

    # Locations, services, resources, customers ---------------------------------------------

    def create_location(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a location."""
        return self.create_object(LOCATION, data, **kw)

    def update_location(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a location."""
        return self.update_object(LOCATION, obj_id, data, **kw)

    def delete_location(self, obj_id: str, **kw: Any) -> None:
        """Delete a location that has no live reservations."""
        self.delete_object(LOCATION, obj_id, check=self._no_live_reservations("location_id"), **kw)

    def create_service(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a service."""
        return self.create_object(SERVICE, data, prepare=self._same_location, **kw)

    def update_service(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a service (existing bookings keep their times)."""
        if "locationId" in data:
            raise Invalid("a service cannot move to another location; create a new one")
        return self.update_object(SERVICE, obj_id, data, prepare=self._same_location, **kw)

    def delete_service(self, obj_id: str, **kw: Any) -> None:
        """Delete a service; its past bookings keep their times."""
        self.delete_object(SERVICE, obj_id, **kw)

    def create_resource(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a resource."""
        return self.create_object(RESOURCE, data, prepare=self._same_location, **kw)

    def update_resource(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a resource."""
        if "locationId" in data:
            raise Invalid("a resource cannot move to another location")
        return self.update_object(RESOURCE, obj_id, data, **kw)

    def delete_resource(self, obj_id: str, **kw: Any) -> None:
        """Delete a resource that has no live reservations."""
        self.delete_object(RESOURCE, obj_id, check=self._no_live_on_resource, **kw)

    def create_customer(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a customer."""
        return self.create_object(CUSTOMER, data, **kw)

    def update_customer(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a customer's details."""
        return self.update_object(CUSTOMER, obj_id, data, **kw)

    def delete_customer(self, obj_id: str, **kw: Any) -> None:
        """Delete a customer (their reservations stay, anonymous)."""
        self.delete_object(CUSTOMER, obj_id, **kw)

    def _no_live_reservations(self, column: str):  # noqa: ANN202
        def check(uow: UnitOfWork, obj: Any) -> None:
            live = uow.session.scalars(
                select(Reservation.id).where(
                    getattr(Reservation, column) == obj.id,
                    Reservation.status.in_(OCCUPYING_VALUES),
                    Reservation.end > uow.now,
                )
            ).first()
            if live:
                raise Conflict("it still has upcoming reservations; cancel or move them first")

        return check

    def _no_live_on_resource(self, uow: UnitOfWork, obj: Any) -> None:
        live = uow.session.scalars(
            select(Reservation.id)
            .join(ReservationResource)
            .where(
                ReservationResource.resource_id == obj.id,
                Reservation.status.in_(OCCUPYING_VALUES),
                Reservation.end > uow.now,
            )
        ).first()
        if live:
            raise Conflict(f"{obj.name} still has upcoming reservations; move or cancel them first")

    # Shifts, blackouts, special events -------------------------------------------------------

    def create_shift(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a (possibly recurring) shift for a staff resource."""
        return self.create_object(SHIFT, data, prepare=self._same_location, **kw)

    def update_shift(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Move or reassign a shift; a reassignment is also announced as ``shift.reassigned``."""
        return self.update_object(SHIFT, obj_id, data, prepare=self._same_location, **kw)

    def delete_shift(self, obj_id: str, **kw: Any) -> None:
        """Delete a shift."""
        self.delete_object(SHIFT, obj_id, **kw)

    def create_blackout(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a holiday, closure or no-pets blackout."""
        return self.create_object(BLACKOUT, data, prepare=self._same_location, **kw)

    def update_blackout(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a blackout."""
        return self.update_object(BLACKOUT, obj_id, data, prepare=self._same_location, **kw)

    def delete_blackout(self, obj_id: str, **kw: Any) -> None:
        """Delete a blackout."""
        self.delete_object(BLACKOUT, obj_id, **kw)

    def create_event(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Create a special event."""
        return self.create_object(EVENT, data, prepare=self._same_location, **kw)

    def update_event(self, obj_id: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Change a special event."""
        return self.update_object(EVENT, obj_id, data, prepare=self._same_location, **kw)

    def delete_event(self, obj_id: str, **kw: Any) -> None:
        """Delete a special event."""
        self.delete_object(EVENT, obj_id, **kw)
