"""What calhub wants a remote calendar to show for one object, and the hashes that compare states.

Audience: an integration's calendar belongs to the staff member (resource scope) or to the business
(location scope), never to a customer. Its events therefore show the service, the customer's
*first name* and the party size — enough to run the day — but never the customer's last name,
e-mail address or phone number, which stay in calhub.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain.statuses import Status
from hub.domain.timerange import iso_z
from hub.providers.base import OutboundEvent, RemoteEvent
from hub.store.models import (
    Customer,
    Integration,
    Location,
    RemoteLink,
    Reservation,
    ReservationResource,
    Resource,
    Service,
    Shift,
)

DELETED = "deleted"  # content_hash of a link whose remote event calhub deleted
# Reservations in these statuses are not (or no longer) on remote calendars.
NOT_MIRRORED = (Status.INITIAL.value, Status.CANCELLED.value)


@dataclass(frozen=True)
class IntegrationInfo:
    """A detached snapshot of an integration row."""

    id: str
    provider: str
    name: str
    status: str
    status_message: str | None
    location_id: str | None
    resource_id: str | None
    config: dict[str, Any]
    cursor: dict[str, Any]
    version: int
    credentials_encrypted: bytes | None

    @classmethod
    def of(cls, i: Integration) -> IntegrationInfo:
        """Snapshot a loaded row."""
        return cls(
            i.id,
            i.provider,
            i.name,
            i.status,
            i.status_message,
            i.location_id,
            i.resource_id,
            dict(i.config or {}),
            dict(i.cursor or {}),
            i.version,
            i.credentials_encrypted,
        )


@dataclass(frozen=True)
class LinkInfo:
    """A detached snapshot of a remote link."""

    entity: str
    entity_id: str
    remote_id: str
    etag: str | None
    synced_version: int
    content_hash: str | None

    @property
    def deleted(self) -> bool:
        """True when calhub deleted the remote event."""
        return self.content_hash == DELETED

    @property
    def timing(self) -> str | None:
        """The timing half of the hash: when the event was, as calhub last wrote it."""
        h = self.content_hash or ""
        return h[32:] if len(h) == 64 else None

    @classmethod
    def of(cls, r: RemoteLink) -> LinkInfo:
        """Snapshot a loaded row."""
        return cls(
            r.entity, r.entity_id, r.remote_id, r.remote_etag, r.synced_version, r.content_hash
        )


@dataclass(frozen=True)
class Desired:
    """The remote state calhub wants for one object: ``event`` None means it must not exist."""

    entity: str
    entity_id: str
    version: int
    event: OutboundEvent | None


def timing_hash(start: datetime | None, end: datetime | None) -> str:
    """32 hex characters identifying a time range (what a remote move changes)."""
    text = f"{iso_z(start) if start else '-'}|{iso_z(end) if end else '-'}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def content_hash(event: OutboundEvent) -> str:
    """64 hex characters: 32 for everything calhub writes, then 32 for the timing alone."""
    fields = {
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "status": event.status,
        "color": event.color,
        "busy": event.busy,
        "timezone": event.timezone,
        "start": iso_z(event.start),
        "end": iso_z(event.end),
        "rrule": event.rrule,
        "exdates": [iso_z(x) for x in event.exdates],
        "resources": sorted(event.resource_ids),  # whose sub-calendar it files under (Teamup)
    }
    full = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]
    return full + timing_hash(event.start, event.end)


def remote_timing(ev: RemoteEvent) -> str:
    """The timing hash of a remote event."""
    return timing_hash(ev.start, ev.end)


def in_scope(info: IntegrationInfo, location_id: str, resource_ids: list[str]) -> bool:
    """A staff integration carries that staff member's items; a location one all of the location's."""
    if info.resource_id:
        return info.resource_id in resource_ids
    return info.location_id == location_id


def _reservation_event(
    s: Session, rid: str
) -> tuple[Any, list[tuple[str, str]], OutboundEvent] | None:
    """(row, [(resource id, name)], event) of one reservation in two queries (the hot path)."""
    row = s.execute(
        select(
            Reservation.id,
            Reservation.uid,
            Reservation.version,
            Reservation.sequence,
            Reservation.status,
            Reservation.location_id,
            Reservation.party_size,
            Reservation.start,
            Reservation.end,
            Reservation.notes,
            Location.timezone,
            Location.address,
            Location.name.label("location_name"),
            Service.name.label("service_name"),
            Service.color,
            Customer.first_name,
        )
        .join(Location, Location.id == Reservation.location_id)
        .outerjoin(Service, Service.id == Reservation.service_id)
        .outerjoin(Customer, Customer.id == Reservation.customer_id)
        .where(Reservation.id == rid)
    ).first()
    if row is None:
        return None
    resources = [
        (res_id, name)
        for res_id, name in s.execute(
            select(Resource.id, Resource.name)
            .join(ReservationResource, ReservationResource.resource_id == Resource.id)
            .where(ReservationResource.reservation_id == rid)
            .order_by(ReservationResource.position)
        )
    ]
    what = row.service_name or "Reservation"
    who = row.first_name or "guest"
    party = f"{row.party_size} guest{'s' if row.party_size != 1 else ''}"
    lines = [f"{what} for {who}, {party}."]
    if resources:
        lines.append("With: " + ", ".join(sorted(name for _, name in resources)) + ".")
    if row.notes:
        lines.append(f"Notes: {row.notes}")
    lines.append(f"calhub appointment {row.id} (change it in calhub; moves here are checked).")
    event = OutboundEvent(
        entity="reservation",
        entity_id=row.id,
        uid=row.uid,
        version=row.version,
        sequence=row.sequence,
        summary=f"{what}: {who} ({party})",
        start=row.start,
        end=row.end,
        timezone=row.timezone or "UTC",
        description="\n".join(lines),
        location=row.address or row.location_name or "",
        status="confirmed",
        color=row.color,
        busy=True,
        resource_ids=tuple(res_id for res_id, _ in resources),
    )
    return row, resources, event


def _shift_event(s: Session, sh: Shift) -> OutboundEvent:
    loc = s.get(Location, sh.location_id)
    res = s.get(Resource, sh.resource_id)
    who = res.name if res else "staff"
    return OutboundEvent(
        entity="shift",
        entity_id=sh.id,
        uid=sh.uid,
        version=sh.version,
        sequence=sh.sequence,
        summary=f"Shift: {who}" + (f" ({sh.role})" if sh.role else ""),
        start=sh.start,
        end=sh.end,
        timezone=loc.timezone if loc else "UTC",
        description=f"calhub shift {sh.id}",
        location=(loc.address or loc.name) if loc else "",
        color=res.color if res else None,
        busy=False,  # working hours are not busy time
        resource_ids=(sh.resource_id,),
        rrule=sh.rrule or None,
        exdates=tuple(
            sorted(datetime.fromisoformat(x.replace("Z", "+00:00")) for x in sh.exdates or ())
        ),
    )


def desired_state(
    s: Session, info: IntegrationInfo, entity: str, entity_id: str, fallback_version: int = 0
) -> Desired:
    """What the integration's calendar should show for one object right now."""
    if entity == "reservation":
        found = _reservation_event(s, entity_id)
        if found is None:
            return Desired(entity, entity_id, fallback_version, None)
        row, resources, event = found
        live = row.status not in NOT_MIRRORED and in_scope(
            info, row.location_id, [res_id for res_id, _ in resources]
        )
        return Desired(entity, entity_id, row.version, event if live else None)
    if entity == "shift":
        sh = s.get(Shift, entity_id)
        if sh is None:
            return Desired(entity, entity_id, fallback_version, None)
        live = in_scope(info, sh.location_id, [sh.resource_id])
        return Desired(entity, entity_id, sh.version, _shift_event(s, sh) if live else None)
    return Desired(entity, entity_id, fallback_version, None)


def objects_in_scope(s: Session, info: IntegrationInfo, since: datetime) -> list[tuple[str, str]]:
    """(entity, id) of every mirrored object in scope ending after ``since`` (for reconciliation)."""
    q = select(Reservation).where(Reservation.end >= since, Reservation.status.not_in(NOT_MIRRORED))
    if info.resource_id:
        q = q.join(ReservationResource).where(ReservationResource.resource_id == info.resource_id)
    else:
        q = q.where(Reservation.location_id == info.location_id)
    out = [("reservation", r.id) for r in s.scalars(q.order_by(Reservation.start))]
    sq = select(Shift).where(Shift.range_end >= since)
    sq = (
        sq.where(Shift.resource_id == info.resource_id)
        if info.resource_id
        else sq.where(Shift.location_id == info.location_id)
    )
    out.extend(("shift", sh.id) for sh in s.scalars(sq.order_by(Shift.start)))
    return out
