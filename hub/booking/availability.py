"""Pure booking rules: may this party have these resources at this time, and which slots are free.

No I/O here: ``hub.booking.context`` loads a ``ScheduleContext`` from the database and both the
commands (``check_booking``) and the availability query (``find_slots``) judge against it, so
the answer "is it free" and the refusal "it is taken" can never disagree.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.domain.capacity import peak_load, units_used
from hub.domain.errors import Conflict, Invalid
from hub.domain.statuses import BlackoutKind, ResourceKind
from hub.domain.timerange import TimeRange, iso_z

MAX_PARTY_SIZE = 1000


@dataclass(frozen=True)
class ResourceInfo:
    """What the rules need to know of a resource."""

    id: str
    kind: str
    capacity: int
    name: str = ""


@dataclass(frozen=True)
class ServiceInfo:
    """What the rules need to know of a service."""

    id: str | None
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    involves_pets: bool = False
    resource_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Blocked:
    """A blackout occurrence."""

    range: TimeRange
    kind: str
    resource_id: str | None
    summary: str = ""


@dataclass(frozen=True)
class EventInfo:
    """A special-event occurrence."""

    id: str
    range: TimeRange
    summary: str
    capacity: int
    blocks_regular_bookings: bool


def event_key(ev: EventInfo) -> str:
    """Key of one special-event occurrence in ``ScheduleContext.event_load``."""
    return f"{ev.id}@{ev.range.start.isoformat()}"


@dataclass
class Occupancy:
    """(block_start, block_end, units) intervals of one resource, searchable by time.

    Loading appends; the first search sorts once (no per-insert shifting of a long list).
    """

    items: list[tuple[datetime, datetime, int]] = field(default_factory=list)
    _starts: list[datetime] = field(default_factory=list)
    _longest: timedelta = timedelta(0)
    _sorted: bool = True

    def add(self, start: datetime, end: datetime, units: int) -> None:
        """Record an interval."""
        self.items.append((start, end, units))
        self._sorted = False
        if end - start > self._longest:
            self._longest = end - start

    def overlapping(self, rng: TimeRange) -> list[tuple[datetime, datetime, int]]:
        """Intervals that overlap ``rng``."""
        if not self._sorted:
            self.items.sort()
            self._starts = [it[0] for it in self.items]
            self._sorted = True
        lo = bisect.bisect_left(self._starts, rng.start - self._longest)
        hi = bisect.bisect_left(self._starts, rng.end)
        return [it for it in self.items[lo:hi] if it[1] > rng.start]

    def load(self) -> int:
        """Number of intervals (for round-robin balancing)."""
        return len(self.items)


@dataclass
class ScheduleContext:
    """Everything the rules consult for one location and window, loaded in one go."""

    location_id: str
    window: TimeRange
    opening: list[TimeRange] | None  # None: always open
    resources: dict[str, ResourceInfo]
    shifts: dict[str, list[TimeRange]] = field(default_factory=dict)
    blackouts: list[Blocked] = field(default_factory=list)
    events: list[EventInfo] = field(default_factory=list)
    occupancy: dict[str, Occupancy] = field(default_factory=dict)
    busy: dict[str, list[TimeRange]] = field(default_factory=dict)
    # seats taken per special-event occurrence (``event_key``)
    event_load: dict[str, int] = field(default_factory=dict)
    timezone: str = "UTC"  # the location's zone: the slot grid follows its wall clock


def _inside_any(rng: TimeRange, windows: Iterable[TimeRange]) -> bool:
    return any(w.contains(rng) for w in windows)


def blocking_reason(
    ctx: ScheduleContext,
    service: ServiceInfo,
    resource_ids: list[str],
    rng: TimeRange,
    party_size: int,
    *,
    event_id: str | None = None,
    sync_external: bool = False,
) -> str | None:
    """Why this booking cannot happen, in words a person understands; None when it can."""
    block = rng.widen(service.buffer_before, service.buffer_after)
    resources = [ctx.resources[r] for r in resource_ids]
    if event_id is None:
        for ev in ctx.events:
            if ev.blocks_regular_bookings and ev.range.overlaps(rng):
                return f"the special event '{ev.summary}' blocks regular bookings then"
    else:
        ev = next((e for e in ctx.events if e.id == event_id and e.range.overlaps(rng)), None)
        if ev is None:
            return "the special event does not take place at that time"
        taken = ctx.event_load.get(event_key(ev), 0)
        if taken + party_size > ev.capacity:
            left = max(ev.capacity - taken, 0)
            return f"the special event '{ev.summary}' has {left} places left"
    for b in ctx.blackouts:
        if b.kind == BlackoutKind.NO_PETS and not service.involves_pets:
            continue
        if (b.resource_id is None or b.resource_id in resource_ids) and b.range.overlaps(rng):
            what = {"holiday": "a holiday", "closure": "a closure", "no_pets": "a no-pets slot"}
            label = f" ({b.summary})" if b.summary else ""
            return f"{iso_z(rng.start)} falls in {what.get(b.kind, 'a blackout')}{label}"
    for res in resources:
        if res.kind == ResourceKind.STAFF:
            if not _inside_any(rng, ctx.shifts.get(res.id, [])):
                return f"{res.name or res.id} has no shift covering that time"
        elif ctx.opening is not None and not _inside_any(rng, ctx.opening):
            return "the location is closed at that time"
        if sync_external and any(b.overlaps(block) for b in ctx.busy.get(res.id, [])):
            return f"{res.name or res.id} is busy in an external calendar then"
    non_staff = [r for r in resources if r.kind != ResourceKind.STAFF]
    if non_staff and sum(r.capacity for r in non_staff) < party_size:
        total = sum(r.capacity for r in non_staff)
        return f"a party of {party_size} does not fit: the chosen resources seat {total}"
    for res in resources:
        need = units_used(res.kind, res.capacity, party_size, len(non_staff) or 1)
        if res.kind != ResourceKind.STAFF and need > res.capacity:
            return f"a party of {party_size} exceeds the capacity of {res.name or res.id} ({res.capacity})"
        occ = ctx.occupancy.get(res.id)
        existing = occ.overlapping(block) if occ else []
        if peak_load([*existing, (block.start, block.end, need)]) > res.capacity:
            return f"{res.name or res.id} is already fully booked at that time"
    return None


def check_booking(
    ctx: ScheduleContext,
    service: ServiceInfo,
    resource_ids: list[str],
    rng: TimeRange,
    party_size: int,
    *,
    event_id: str | None = None,
    sync_external: bool = False,
) -> None:
    """Raise Conflict with the reason when the booking breaks a rule."""
    validate_party_size(party_size)
    if not resource_ids:
        raise Invalid("resourceIds must name at least one resource")
    for rid in resource_ids:
        if rid not in ctx.resources:
            raise Invalid(f"resource {rid} is not at this location or is inactive")
    if service.resource_ids is not None:
        for rid in resource_ids:
            if rid not in service.resource_ids:
                raise Conflict(f"resource {rid} does not offer this service", code="not_offered")
    reason = blocking_reason(
        ctx, service, resource_ids, rng, party_size, event_id=event_id, sync_external=sync_external
    )
    if reason:
        raise Conflict(f"slot not available: {reason}", code="slot_unavailable")


def validate_party_size(party_size: object) -> int:
    """Party size is a whole number from 1 to MAX_PARTY_SIZE."""
    if isinstance(party_size, bool) or not isinstance(party_size, int):
        raise Invalid("partySize must be a whole number")
    if not 1 <= party_size <= MAX_PARTY_SIZE:
        raise Invalid(f"partySize must be between 1 and {MAX_PARTY_SIZE}, not {party_size}")
    return party_size


@dataclass(frozen=True)
class Slot:
    """One bookable start time and the resources that can take it."""

    start: datetime
    end: datetime
    resource_ids: tuple[str, ...]


def candidate_starts(ctx: ScheduleContext, window: TimeRange, step: timedelta) -> list[datetime]:
    """Start times on the location's grid: every ``step`` from local midnight, in its zone.

    Wall-clock times skipped by a daylight-saving jump are left out; the repeated hour in
    autumn is offered once per real instant (both 02:30s, as they are different instants).
    """
    tz = ZoneInfo(ctx.timezone)
    step_min = max(int(step.total_seconds() // 60), 1)
    walls = [timedelta(minutes=k) for k in range(0, 24 * 60, step_min)]
    day = window.start.astimezone(tz).date()
    last = window.end.astimezone(tz).date()
    out: list[datetime] = []
    while day <= last:
        midnight = datetime.combine(day, time(0))
        off0 = midnight.replace(tzinfo=tz).utcoffset()
        off1 = (midnight + timedelta(days=1)).replace(tzinfo=tz).utcoffset()
        if off0 == off1 and off0 is not None:  # no change of offset that day: plain arithmetic
            base = midnight.replace(tzinfo=UTC) - off0
            out.extend(t for t in (base + w for w in walls) if window.start <= t < window.end)
        else:
            for w in walls:
                wall = midnight + w
                for fold in (0, 1):
                    utc = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
                    if utc.astimezone(tz).replace(tzinfo=None) != wall:
                        continue  # skipped by spring-forward
                    if window.start <= utc < window.end:
                        out.append(utc)
        day += timedelta(days=1)
    return sorted(set(out))


class _Windows:
    """Sorted, disjoint ranges with O(log n) "inside one of them" / "overlaps any" lookups."""

    def __init__(self, ranges: Iterable[TimeRange | tuple[datetime, datetime]]) -> None:
        pairs = sorted((r.start, r.end) if isinstance(r, TimeRange) else r for r in ranges)
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        for a, b in pairs:  # merge overlapping and touching ranges
            if self.ends and a <= self.ends[-1]:
                if b > self.ends[-1]:
                    self.ends[-1] = b
            else:
                self.starts.append(a)
                self.ends.append(b)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def contains(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_right(self.starts, start) - 1
        return i >= 0 and self.ends[i] >= end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_right(self.ends, start)  # first range ending after ``start``
        return i < len(self.starts) and self.starts[i] < end


def _overloaded(occ: Occupancy | None, room: int) -> _Windows:
    """Stretches of time when a resource's load already exceeds ``room`` (a step function)."""
    if occ is None or not occ.items:
        return _Windows(())
    deltas: dict[datetime, int] = {}
    for start, end, units in occ.items:
        deltas[start] = deltas.get(start, 0) + units
        deltas[end] = deltas.get(end, 0) - units
    spans: list[tuple[datetime, datetime]] = []
    load, since = 0, None
    for t in sorted(deltas):
        load += deltas[t]
        if load > room and since is None:
            since = t
        elif load <= room and since is not None:
            spans.append((since, t))
            since = None
    return _Windows(spans)


@dataclass
class _Grid:
    """Sorted candidate starts of one service; masks are built per window, not per start."""

    starts: list[datetime]
    service: ServiceInfo

    def inside(self, windows: _Windows | None) -> list[bool]:
        """Starts whose [start, end) lies inside one window: w0 <= start <= w1 - duration."""
        n = len(self.starts)
        if windows is None:
            return [True] * n
        out = [False] * n
        for w0, w1 in zip(windows.starts, windows.ends, strict=True):
            i0 = bisect.bisect_left(self.starts, w0)
            i1 = bisect.bisect_right(self.starts, w1 - self.service.duration)
            if i1 > i0:
                out[i0:i1] = [True] * (i1 - i0)
        return out

    def clear(self, mask: list[bool], blocks: _Windows, *, buffered: bool = False) -> None:
        """Set False, in place, where [start, end) (with buffers if ``buffered``) meets a block."""
        svc = self.service
        before = svc.buffer_before if buffered else timedelta(0)
        after = svc.buffer_after if buffered else timedelta(0)
        for b0, b1 in zip(blocks.starts, blocks.ends, strict=True):
            # overlap  <=>  start - before < b1  and  start + duration + after > b0
            i0 = bisect.bisect_right(self.starts, b0 - svc.duration - after)
            i1 = bisect.bisect_left(self.starts, b1 + before)
            if i1 > i0:
                mask[i0:i1] = [False] * (i1 - i0)


def _free_starts(
    ctx: ScheduleContext,
    service: ServiceInfo,
    rid: str,
    grid: _Grid,
    common: _Windows,
    shared: dict[str, list[bool]],
    party_size: int,
    sync_external: bool,
) -> list[bool]:
    """For each start, can ``rid`` alone take this party then? Same rules as ``blocking_reason``.

    ``common``: what closes every resource (blocking events, location-wide blackouts);
    ``shared`` caches the opening-hours mask every table, room and area has in common.
    """
    res = ctx.resources[rid]
    staff = res.kind == ResourceKind.STAFF
    if not staff and party_size > res.capacity:
        return [False] * len(grid.starts)
    need = units_used(res.kind, res.capacity, party_size, 1)
    if staff:
        free = grid.inside(_Windows(ctx.shifts.get(rid, [])))
        grid.clear(free, common)
    else:
        if "open" not in shared:
            base = grid.inside(None if ctx.opening is None else _Windows(ctx.opening))
            grid.clear(base, common)
            shared["open"] = base
        free = list(shared["open"])
    own = _Windows(
        b.range
        for b in ctx.blackouts
        if b.resource_id == rid and (b.kind != BlackoutKind.NO_PETS or service.involves_pets)
    )
    grid.clear(free, own)
    if sync_external and ctx.busy.get(rid):
        grid.clear(free, _Windows(ctx.busy[rid]), buffered=True)
    grid.clear(free, _overloaded(ctx.occupancy.get(rid), res.capacity - need), buffered=True)
    return free


def find_slots(
    ctx: ScheduleContext,
    service: ServiceInfo,
    window: TimeRange,
    party_size: int,
    *,
    resource_ids: list[str] | None = None,
    round_robin: str = "NONE",
    step: timedelta = timedelta(minutes=15),
    sync_external: bool = False,
    not_before: datetime | None = None,
    rng_seed: int | None = None,
) -> list[Slot]:
    """Every bookable slot in ``window`` honouring every rule ``check_booking`` enforces.

    NONE returns one slot per free resource; BALANCED one slot per start time on the
    least-loaded free resource; RANDOM one slot per start time on any free resource.
    Each resource's day is swept once (sorted windows, a load profile) rather than judging
    every slot from scratch; ``blocking_reason`` stays the reference the tests compare with.
    """
    validate_party_size(party_size)
    pool = [r for r in (resource_ids or list(ctx.resources)) if r in ctx.resources]
    if service.resource_ids is not None:
        pool = [r for r in pool if r in service.resource_ids]
    starts = [
        s
        for s in candidate_starts(ctx, window, step)
        if s + service.duration <= window.end and not (not_before and s < not_before)
    ]
    grid = _Grid(starts, service)
    common = _Windows(
        [ev.range for ev in ctx.events if ev.blocks_regular_bookings]
        + [
            b.range
            for b in ctx.blackouts
            if b.resource_id is None and (b.kind != BlackoutKind.NO_PETS or service.involves_pets)
        ]
    )
    shared: dict[str, list[bool]] = {}
    free = {
        rid: _free_starts(ctx, service, rid, grid, common, shared, party_size, sync_external)
        for rid in pool
    }
    chooser = random.Random(rng_seed)
    load = {rid: (ctx.occupancy[rid].load() if rid in ctx.occupancy else 0, rid) for rid in pool}
    out: list[Slot] = []
    for i, start in enumerate(starts):
        here = [rid for rid in pool if free[rid][i]]
        if not here:
            continue
        end = start + service.duration
        if round_robin == "NONE":
            out.extend(Slot(start, end, (rid,)) for rid in here)
        elif round_robin == "RANDOM":
            out.append(Slot(start, end, (chooser.choice(here),)))
        else:  # BALANCED: least-loaded in the window, ties broken by id for stable answers
            out.append(Slot(start, end, (min(here, key=load.__getitem__),)))
    return out
