"""Load a ``ScheduleContext`` (the rules' view of one location and window) from the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from hub.booking.availability import (
    Blocked,
    EventInfo,
    Occupancy,
    ResourceInfo,
    ScheduleContext,
    ServiceInfo,
)
from hub.domain.capacity import units_used
from hub.domain.hours import opening_windows
from hub.domain.recurrence import expand
from hub.domain.statuses import OCCUPYING_VALUES, ResourceKind, Status
from hub.domain.timerange import TimeRange
from hub.store.models import (
    Blackout,
    BusyBlock,
    Location,
    Reservation,
    ReservationResource,
    Resource,
    Service,
    Shift,
    SpecialEvent,
)

# Buffers and DST slack: load a little around the window so edge bookings are judged right.
MARGIN = timedelta(hours=26)


def service_info(service: Service | None, duration: timedelta | None = None) -> ServiceInfo:
    """The rules' view of a service (or of an ad-hoc booking without one)."""
    if service is None:
        return ServiceInfo(id=None, duration=duration or timedelta(hours=1))
    return ServiceInfo(
        id=service.id,
        duration=timedelta(minutes=service.duration),
        buffer_before=timedelta(minutes=service.buffer_before),
        buffer_after=timedelta(minutes=service.buffer_after),
        involves_pets=service.involves_pets,
        resource_ids=tuple(service.resource_ids) if service.resource_ids is not None else None,
    )


def occupying_clause(now: datetime):  # noqa: ANN201 - SQLAlchemy expression
    """Reservations that hold capacity now: every occupying status but an expired hold."""
    return and_(
        Reservation.status.in_(OCCUPYING_VALUES),
        not_(and_(Reservation.status == Status.INITIAL.value, Reservation.expires_at <= now)),
    )


def load_context(
    session: Session,
    location: Location,
    window: TimeRange,
    now: datetime,
    *,
    resource_ids: Iterable[str] | None = None,
    exclude_reservation_ids: Iterable[str] = (),
    with_busy: bool = False,
) -> ScheduleContext:
    """Everything the rules need for ``location`` around ``window`` as plain data."""
    tz = ZoneInfo(location.timezone)
    wide = TimeRange(window.start - MARGIN, window.end + MARGIN)
    q = select(Resource).where(Resource.location_id == location.id, Resource.active.is_(True))
    if resource_ids is not None:
        q = q.where(Resource.id.in_(list(resource_ids)))
    resources = {r.id: ResourceInfo(r.id, r.kind, r.capacity, r.name) for r in session.scalars(q)}
    ctx = ScheduleContext(
        location_id=location.id,
        window=window,
        opening=None
        if location.opening_hours is None
        else opening_windows(location.opening_hours, tz, wide),
        resources=resources,
    )
    ids = list(resources)
    staff = [r for r in ids if resources[r].kind == ResourceKind.STAFF]
    if staff:
        for sh in session.scalars(
            select(Shift).where(
                Shift.resource_id.in_(staff), Shift.start < wide.end, Shift.range_end > wide.start
            )
        ):
            ctx.shifts.setdefault(sh.resource_id, []).extend(
                expand(sh.start, sh.end, sh.rrule, tz, wide, sh.exdates or [])
            )
    for b in session.scalars(
        select(Blackout).where(
            Blackout.location_id == location.id,
            Blackout.start < wide.end,
            Blackout.range_end > wide.start,
        )
    ):
        for occ in expand(b.start, b.end, b.rrule, tz, wide, b.exdates or []):
            ctx.blackouts.append(Blocked(occ, b.kind, b.resource_id, b.summary))
    for ev in session.scalars(
        select(SpecialEvent).where(
            SpecialEvent.location_id == location.id,
            SpecialEvent.start < wide.end,
            SpecialEvent.range_end > wide.start,
        )
    ):
        for occ in expand(ev.start, ev.end, ev.rrule, tz, wide, ev.exdates or []):
            ctx.events.append(
                EventInfo(ev.id, occ, ev.summary, ev.capacity, ev.blocks_regular_bookings)
            )
    excluded = list(exclude_reservation_ids)
    rq = (
        select(
            ReservationResource.resource_id,
            Reservation.id,
            Reservation.block_start,
            Reservation.block_end,
            Reservation.party_size,
            Reservation.event_id,
        )
        .join(Reservation, Reservation.id == ReservationResource.reservation_id)
        .where(
            Reservation.location_id == location.id,
            Reservation.block_start < wide.end,
            Reservation.block_end > wide.start,
            occupying_clause(now),
        )
    )
    if excluded:
        rq = rq.where(Reservation.id.not_in(excluded))
    rows = session.execute(rq).all()
    per_res: dict[str, int] = {}
    for row in rows:
        per_res[row.id] = per_res.get(row.id, 0) + 1
    seen_events: set[str] = set()
    for row in rows:
        res = resources.get(row.resource_id)
        if res is not None:
            units = units_used(res.kind, res.capacity, row.party_size, per_res[row.id])
            ctx.occupancy.setdefault(res.id, Occupancy()).add(row.block_start, row.block_end, units)
        if row.event_id and row.id not in seen_events:
            seen_events.add(row.id)
            ctx.event_load[row.event_id] = ctx.event_load.get(row.event_id, 0) + row.party_size
    if with_busy and ids:
        for bb in session.scalars(
            select(BusyBlock).where(
                BusyBlock.resource_id.in_(ids),
                BusyBlock.transparent.is_(False),
                BusyBlock.start < wide.end,
                BusyBlock.range_end > wide.start,
            )
        ):
            ctx.busy.setdefault(bb.resource_id or "", []).extend(busy_ranges(bb, tz, wide))
        _add_location_wide_busy(session, ctx, location, ids, tz, wide)
    return ctx


def _add_location_wide_busy(
    session: Session,
    ctx: ScheduleContext,
    location: Location,
    ids: Iterable[str],
    tz: ZoneInfo,
    wide: TimeRange,
) -> None:
    """A location-scoped integration's foreign events with no resource block every resource."""
    from hub.store.models import Integration  # local: keeps this addition self-contained

    blocks = session.scalars(
        select(BusyBlock)
        .join(Integration, Integration.id == BusyBlock.integration_id)
        .where(
            BusyBlock.resource_id.is_(None),
            Integration.location_id == location.id,
            Integration.resource_id.is_(None),
            BusyBlock.transparent.is_(False),
            BusyBlock.start < wide.end,
            BusyBlock.range_end > wide.start,
        )
    )
    for bb in blocks:
        ranges = busy_ranges(bb, tz, wide)
        for rid in ids:
            ctx.busy.setdefault(rid, []).extend(ranges)


def busy_ranges(block: BusyBlock, tz: ZoneInfo, window: TimeRange) -> list[TimeRange]:
    """Occurrences of a busy block inside ``window`` (recurring ones expanded from their iCalendar)."""
    if not block.recurring or not block.ical:
        if block.start < window.end and block.range_end > window.start:
            return [TimeRange(block.start, block.range_end)]
        return []
    from hub.ical.expand import busy_occurrences  # local import: ical is optional here

    return busy_occurrences(block.ical, window)
