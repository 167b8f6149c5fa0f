"""Turn rows into the plain data ``hub.ical`` renders (the read side of every calendar view)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hub.ical.model import ReservationData, TimedItemData
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


def reservation_data(session: Session, r: Reservation) -> ReservationData:
    """Everything about one reservation that any audience might be shown."""
    loc = session.get(Location, r.location_id)
    svc = session.get(Service, r.service_id) if r.service_id else None
    cust = session.get(Customer, r.customer_id) if r.customer_id else None
    ev = session.get(SpecialEvent, r.event_id) if r.event_id else None
    names = []
    for rid in r.resource_ids:
        res = session.get(Resource, rid)
        if res is not None:
            names.append(res.name)
    return ReservationData(
        id=r.id,
        uid=r.uid,
        status=r.status,
        start=r.start,
        end=r.end,
        timezone=loc.timezone if loc else "UTC",
        sequence=r.sequence,
        version=r.version,
        created=r.created_at,
        updated=r.updated_at,
        party_size=r.party_size,
        location_name=loc.name if loc else "",
        location_address=loc.address if loc else None,
        location_email=loc.email if loc else None,
        service_name=svc.name if svc else None,
        color=svc.color if svc else None,
        resource_names=tuple(names),
        customer_first=cust.first_name if cust else None,
        customer_last=cust.last_name if cust else None,
        customer_email=cust.email if cust else None,
        customer_phone=cust.phone if cust else None,
        notes=r.notes,
        expires_at=r.expires_at,
        event_summary=ev.summary if ev else None,
        confirmed=r.confirmed,
        flagged=r.flagged,
        recurrence_id=None,
    )


def _exdates(values: list[str] | None) -> tuple[datetime, ...]:
    return tuple(datetime.fromisoformat(v) for v in values or [])


def shift_data(session: Session, s: Shift) -> TimedItemData:
    """A shift as calendar data (summary names the staff member and role)."""
    loc = session.get(Location, s.location_id)
    res = session.get(Resource, s.resource_id)
    who = res.name if res else "staff"
    return TimedItemData(
        kind="shift",
        id=s.id,
        uid=s.uid,
        summary=f"Shift: {who}" + (f" ({s.role})" if s.role else ""),
        start=s.start,
        end=s.end,
        timezone=loc.timezone if loc else "UTC",
        sequence=s.sequence,
        version=s.version,
        created=s.created_at,
        updated=s.updated_at,
        rrule=s.rrule,
        exdates=_exdates(s.exdates),
        location_name=loc.name if loc else None,
        categories=("Shift",),
        extra={"resource-id": s.resource_id},
    )


def blackout_data(session: Session, b: Blackout) -> TimedItemData:
    """A blackout as calendar data."""
    loc = session.get(Location, b.location_id)
    label = {"holiday": "Holiday", "closure": "Closed", "no_pets": "No pets"}.get(b.kind, b.kind)
    return TimedItemData(
        kind="blackout",
        id=b.id,
        uid=b.uid,
        summary=b.summary or label,
        start=b.start,
        end=b.end,
        timezone=loc.timezone if loc else "UTC",
        sequence=b.sequence,
        version=b.version,
        created=b.created_at,
        updated=b.updated_at,
        rrule=b.rrule,
        exdates=_exdates(b.exdates),
        all_day=b.all_day,
        start_date=b.start_date,
        end_date=b.end_date,
        location_name=loc.name if loc else None,
        categories=(label,),
        extra={"blackout-kind": b.kind} | ({"resource-id": b.resource_id} if b.resource_id else {}),
    )


def event_data(session: Session, e: SpecialEvent) -> TimedItemData:
    """A special event as calendar data."""
    loc = session.get(Location, e.location_id)
    return TimedItemData(
        kind="event",
        id=e.id,
        uid=e.uid,
        summary=e.summary,
        start=e.start,
        end=e.end,
        timezone=loc.timezone if loc else "UTC",
        sequence=e.sequence,
        version=e.version,
        created=e.created_at,
        updated=e.updated_at,
        rrule=e.rrule,
        exdates=_exdates(e.exdates),
        description=e.description,
        location_name=loc.name if loc else None,
        categories=("Special event",),
        extra={
            "capacity": str(e.capacity),
            "blocks-regular-bookings": str(e.blocks_regular_bookings).lower(),
        },
    )
