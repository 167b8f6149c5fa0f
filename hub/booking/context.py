"""Load a ``ScheduleContext`` (the rules' view of one location and window) from the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, not_, select
from sqlalchemy.orm import Session

from hub.booking.availability import (
    Blocked,
    EventInfo,
    Occupancy,
    ResourceInfo,
    ScheduleContext,
    ServiceInfo,
    event_key,
)
from hub.domain.hours import merge, opening_windows
from hub.domain.recurrence import expand
from hub.domain.statuses import OCCUPYING_VALUES, ResourceKind, Status
from hub.domain.timerange import TimeRange
from hub.store.models import (
    Blackout,
    BusyBlock,
    Integration,
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


def _p(name: str, expanding: bool = False):  # noqa: ANN202 - SQLAlchemy expression
    return bindparam(name, expanding=expanding)


# The statements load_context runs on every check and every availability request, built once:
# constructing SQLAlchemy expressions costs more than running these indexed queries.
_LIVE = and_(
    Reservation.status.in_(OCCUPYING_VALUES),
    not_(and_(Reservation.status == Status.INITIAL.value, Reservation.expires_at <= _p("now"))),
)
_RESOURCES = select(Resource.id, Resource.kind, Resource.capacity, Resource.name).where(
    Resource.location_id == _p("loc"), Resource.active.is_(True)
)
_RESOURCES_SOME = _RESOURCES.where(Resource.id.in_(_p("ids", True)))
_SHIFTS = select(Shift.resource_id, Shift.start, Shift.end, Shift.rrule, Shift.exdates).where(
    Shift.resource_id.in_(_p("ids", True)), Shift.start < _p("hi"), Shift.range_end > _p("lo")
)
_BLACKOUTS = select(
    Blackout.start,
    Blackout.end,
    Blackout.rrule,
    Blackout.exdates,
    Blackout.kind,
    Blackout.resource_id,
    Blackout.summary,
).where(Blackout.location_id == _p("loc"), Blackout.start < _p("hi"), Blackout.range_end > _p("lo"))
_EVENTS = select(
    SpecialEvent.id,
    SpecialEvent.start,
    SpecialEvent.end,
    SpecialEvent.rrule,
    SpecialEvent.exdates,
    SpecialEvent.summary,
    SpecialEvent.capacity,
    SpecialEvent.blocks_regular_bookings,
).where(
    SpecialEvent.location_id == _p("loc"),
    SpecialEvent.start < _p("hi"),
    SpecialEvent.range_end > _p("lo"),
)
_BOOKED = (
    select(
        ReservationResource.resource_id,
        Resource.kind,
        Reservation.id,
        Reservation.block_start,
        Reservation.block_end,
        Reservation.party_size,
    )
    .join(Reservation, Reservation.id == ReservationResource.reservation_id)
    .join(Resource, Resource.id == ReservationResource.resource_id)
    .where(
        Reservation.location_id == _p("loc"),
        Reservation.block_start < _p("hi"),
        Reservation.block_end > _p("lo"),
        Reservation.id.not_in(_p("excluded", True)),
        _LIVE,
    )
)
# Only reservations that touch the resources asked about (all their rows, so a reservation
# spread over several tables is still counted the way it was booked).
_BOOKED_SOME = _BOOKED.where(
    Reservation.id.in_(
        select(ReservationResource.reservation_id).where(
            ReservationResource.resource_id.in_(_p("ids", True))
        )
    )
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
    known: Iterable[ResourceInfo] | None = None,
) -> ScheduleContext:
    """Everything the rules need for ``location`` around ``window`` as plain data.

    ``known``: the resources already read (and locked) by the caller, to skip reading them again.
    """
    tz = ZoneInfo(location.timezone)
    wide = TimeRange(window.start - MARGIN, window.end + MARGIN)
    span = {"loc": location.id, "lo": wide.start, "hi": wide.end}
    wanted = None if resource_ids is None else list(resource_ids)
    conn = session.connection()  # plain Core rows: no ORM bookkeeping on the hot path
    if known is not None:
        resources = {r.id: r for r in known}
    else:
        rows = conn.execute(
            _RESOURCES if wanted is None else _RESOURCES_SOME,
            {"loc": location.id} if wanted is None else {"loc": location.id, "ids": wanted},
        )
        resources = {r.id: ResourceInfo(r.id, r.kind, r.capacity, r.name) for r in rows}
    ctx = ScheduleContext(
        location_id=location.id,
        window=window,
        opening=None
        if location.opening_hours is None
        else opening_windows(location.opening_hours, tz, wide),
        resources=resources,
        timezone=location.timezone,
    )
    ids = list(resources)
    staff = [r for r in ids if resources[r].kind == ResourceKind.STAFF]
    if staff:
        for sh in conn.execute(_SHIFTS, {"ids": staff, "lo": wide.start, "hi": wide.end}):
            ctx.shifts.setdefault(sh.resource_id, []).extend(
                expand(sh.start, sh.end, sh.rrule, tz, wide, sh.exdates or [])
            )
        # Back-to-back shifts are one stretch of working time.
        ctx.shifts = {rid: merge(ranges) for rid, ranges in ctx.shifts.items()}
    for b in conn.execute(_BLACKOUTS, span):
        for occ in expand(b.start, b.end, b.rrule, tz, wide, b.exdates or []):
            ctx.blackouts.append(Blocked(occ, b.kind, b.resource_id, b.summary))
    for ev in conn.execute(_EVENTS, span):
        for occ in expand(ev.start, ev.end, ev.rrule, tz, wide, ev.exdates or []):
            ctx.events.append(
                EventInfo(ev.id, occ, ev.summary, ev.capacity, ev.blocks_regular_bookings)
            )
    excluded = list(exclude_reservation_ids)
    params = {**span, "now": now, "excluded": excluded}
    if wanted is not None:
        params["ids"] = ids
    booked = conn.execute(_BOOKED if wanted is None else _BOOKED_SOME, params).all()
    # How many non-staff resources each reservation spreads over (see ``units_used``).
    spread: dict[str, int] = {}
    staff_kind = ResourceKind.STAFF.value
    for _rid, kind, res_id, *_ in booked:
        if kind != staff_kind:
            spread[res_id] = spread.get(res_id, 0) + 1
    occupancy: dict[str, Occupancy] = {rid: Occupancy() for rid in resources}
    for rid, _kind, res_id, block_start, block_end, party_size in booked:
        res = resources.get(rid)
        if res is None:
            continue
        n = spread.get(res_id, 0)
        # units_used inlined on this hot loop: staff 1, a shared table its party, else whole.
        if res.kind == staff_kind:
            units = 1
        elif n > 1:
            units = res.capacity
        else:
            units = party_size
        occupancy[rid].add(block_start, block_end, units)
    ctx.occupancy = {rid: occ for rid, occ in occupancy.items() if occ.items}
    if ctx.events:
        _load_event_seats(session, ctx, now, excluded)
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


def _load_event_seats(
    session: Session, ctx: ScheduleContext, now: datetime, excluded: list[str]
) -> None:
    """Seats taken in each special-event occurrence, over every resource of the location."""
    ids = sorted({ev.id for ev in ctx.events})
    q = select(Reservation.event_id, Reservation.start, Reservation.party_size).where(
        Reservation.event_id.in_(ids), occupying_clause(now)
    )
    if excluded:
        q = q.where(Reservation.id.not_in(excluded))
    taken = session.execute(q).all()
    for ev in ctx.events:
        seats = sum(
            t.party_size
            for t in taken
            if t.event_id == ev.id and ev.range.start <= t.start < ev.range.end
        )
        ctx.event_load[event_key(ev)] = seats


def _add_location_wide_busy(
    session: Session,
    ctx: ScheduleContext,
    location: Location,
    ids: Iterable[str],
    tz: ZoneInfo,
    wide: TimeRange,
) -> None:
    """A location-scoped integration's foreign events with no resource block every resource."""
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
    """Occurrences of a busy block inside ``window``, read in the location's zone ``tz``.

    Blocks with iCalendar text (personal CalDAV calendars) are expanded from it, so recurrences,
    all-day dates and floating times are judged on the local clock; others use their range.
    """
    if not block.ical:
        if block.start < window.end and block.range_end > window.start:
            return [TimeRange(block.start, block.range_end)]
        return []
    from hub.ical.expand import busy_occurrences  # local import: ical is optional here

    return busy_occurrences(block.ical, window, tz)
