"""Plain-dict views of rows: the API's JSON shape and the change log's payload."""

from __future__ import annotations

from typing import Any

from hub.domain.statuses import Status
from hub.domain.timerange import iso_z
from hub.store.models import (
    Blackout,
    Customer,
    Location,
    Reservation,
    Resource,
    Service,
    Shift,
    SpecialEvent,
)


def location_view(loc: Location) -> dict[str, Any]:
    """A location as the API shows it."""
    return {
        "id": loc.id,
        "slug": loc.slug,
        "name": loc.name,
        "timezone": loc.timezone,
        "expirationDelay": loc.expiration_delay,
        "openingHours": loc.opening_hours,
        "slotInterval": loc.slot_interval,
        "email": loc.email,
        "address": loc.address,
        "declinePolicy": loc.decline_policy,
        "version": loc.version,
    }


def service_view(svc: Service) -> dict[str, Any]:
    """A service as the API shows it."""
    return {
        "id": svc.id,
        "locationId": svc.location_id,
        "name": svc.name,
        "duration": svc.duration,
        "bufferBefore": svc.buffer_before,
        "bufferAfter": svc.buffer_after,
        "involvesPets": svc.involves_pets,
        "color": svc.color,
        "resourceIds": svc.resource_ids,
        "version": svc.version,
    }


def resource_view(res: Resource) -> dict[str, Any]:
    """A resource as the API shows it."""
    return {
        "id": res.id,
        "locationId": res.location_id,
        "name": res.name,
        "kind": res.kind,
        "capacity": res.capacity,
        "email": res.email,
        "color": res.color,
        "active": res.active,
        "version": res.version,
    }


def customer_view(c: Customer) -> dict[str, Any]:
    """A customer as the API shows it."""
    return {
        "id": c.id,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "version": c.version,
    }


def reservation_view(r: Reservation) -> dict[str, Any]:
    """An appointment as the API shows it (field names follow the booking-API convention)."""
    out: dict[str, Any] = {
        "id": r.id,
        "status": r.status,
        "serviceId": r.service_id,
        "locationId": r.location_id,
        "resourceIds": r.resource_ids,
        "start_time": iso_z(r.start),
        "end_time": iso_z(r.end),
        "partySize": r.party_size,
        "customerId": r.customer_id,
        "eventId": r.event_id,
        "seriesId": r.series_id,
        "recurrenceId": iso_z(r.recurrence_id) if r.recurrence_id else None,
        "channel": r.channel,
        "externalIds": r.external_ids or {},
        "notes": r.notes,
        "confirmed": r.confirmed,
        "flagged": r.flagged,
        "uid": r.uid,
        "sequence": r.sequence,
        "version": r.version,
        "createdAt": iso_z(r.created_at),
        "updatedAt": iso_z(r.updated_at),
    }
    if r.status == Status.INITIAL and r.expires_at is not None:
        out["expiresAt"] = iso_z(r.expires_at)
    if r.status == Status.CANCELLED:
        out["cancelledBy"] = r.cancelled_by
        out["cancelReason"] = r.cancel_reason
    return out


def shift_view(s: Shift) -> dict[str, Any]:
    """A shift as the API shows it."""
    return {
        "id": s.id,
        "locationId": s.location_id,
        "resourceId": s.resource_id,
        "start": iso_z(s.start),
        "end": iso_z(s.end),
        "role": s.role,
        "rrule": s.rrule,
        "exdates": s.exdates or [],
        "uid": s.uid,
        "sequence": s.sequence,
        "version": s.version,
    }


def blackout_view(b: Blackout) -> dict[str, Any]:
    """A blackout as the API shows it."""
    return {
        "id": b.id,
        "locationId": b.location_id,
        "resourceId": b.resource_id,
        "kind": b.kind,
        "start": iso_z(b.start),
        "end": iso_z(b.end),
        "allDay": b.all_day,
        "summary": b.summary,
        "rrule": b.rrule,
        "exdates": b.exdates or [],
        "uid": b.uid,
        "sequence": b.sequence,
        "version": b.version,
    }


def event_view(e: SpecialEvent) -> dict[str, Any]:
    """A special event as the API shows it."""
    return {
        "id": e.id,
        "locationId": e.location_id,
        "start": iso_z(e.start),
        "end": iso_z(e.end),
        "summary": e.summary,
        "description": e.description,
        "capacity": e.capacity,
        "blocksRegularBookings": e.blocks_regular_bookings,
        "rrule": e.rrule,
        "uid": e.uid,
        "sequence": e.sequence,
        "version": e.version,
    }
