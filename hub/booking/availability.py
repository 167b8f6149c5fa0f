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
from hub.domain.hours import merge
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
    """Sorted (block_start, block_end, units) intervals of one resource, searchable by time."""

    items: list[tuple[datetime, datetime, int]] = field(default_factory=list)
    _starts: list[datetime] = field(default_factory=list)
    _longest: timedelta = timedelta(0)

    def add(self, start: datetime, end: datetime, units: int) -> None:
        """Insert an interval (kept sorted)."""
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self.items.insert(i, (start, end, units))
        self._longest = max(self._longest, end - start)

    def overlapping(self, rng: TimeRange) -> list[tuple[datetime, datetime, int]]:
        """Intervals that overlap ``rng``."""
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
    day = window.start.astimezone(tz).date()
    last = window.end.astimezone(tz).date()
    seen: set[datetime] = set()
    out: list[datetime] = []
    while day <= last:
        midnight = datetime.combine(day, time(0))
        for k in range(0, 24 * 60, step_min):
            wall = midnight + timedelta(minutes=k)
            for fold in (0, 1):
                aware = wall.replace(tzinfo=tz, fold=fold)
                utc = aware.astimezone(UTC)
                if utc.astimezone(tz).replace(tzinfo=None) != wall:
                    continue  # skipped by spring-forward
                if window.start <= utc < window.end and utc not in seen:
                    seen.add(utc)
                    out.append(utc)
        day += timedelta(days=1)
    out.sort()
    return out


class _Windows:
    """Sorted, disjoint ranges with O(log n) "is this range inside one of them" lookups."""

    def __init__(self, ranges: Iterable[TimeRange]) -> None:
        merged = merge(list(ranges))
        self.starts = [r.start for r in merged]
        self.ends = [r.end for r in merged]

    def contains(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_right(self.starts, start) - 1
        return i >= 0 and self.ends[i] >= end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_right(self.ends, start)  # first range ending after ``start``
        return i < len(self.starts) and self.starts[i] < end


class _Profile:
    """A resource's load as a step function, for "peak load between a and b" lookups."""

    def __init__(self, occ: Occupancy | None) -> None:
        deltas: dict[datetime, int] = {}
        for start, end, units in occ.items if occ else ():
            deltas[start] = deltas.get(start, 0) + units
            deltas[end] = deltas.get(end, 0) - units
        self.times = sorted(deltas)
        self.loads: list[int] = []
        current = 0
        for t in self.times:
            current += deltas[t]
            self.loads.append(current)

    def peak(self, start: datetime, end: datetime) -> int:
        times, loads = self.times, self.loads
        i = bisect.bisect_right(times, start) - 1
        peak = loads[i] if i >= 0 else 0
        i += 1
        n = len(times)
        while i < n and times[i] < end:
            if loads[i] > peak:
                peak = loads[i]
            i += 1
        return peak


def _free_starts(
    ctx: ScheduleContext,
    service: ServiceInfo,
    rid: str,
    starts: list[datetime],
    party_size: int,
    sync_external: bool,
) -> list[bool]:
    """For each start, can ``rid`` alone take this party then? Same rules as ``blocking_reason``."""
    res = ctx.resources[rid]
    staff = res.kind == ResourceKind.STAFF
    if not staff and party_size > res.capacity:
        return [False] * len(starts)
    need = units_used(res.kind, res.capacity, party_size, 1)
    room = res.capacity - need
    if staff:
        windows: _Windows | None = _Windows(ctx.shifts.get(rid, []))
    else:
        windows = None if ctx.opening is None else _Windows(ctx.opening)
    blocks = _Windows(
        [ev.range for ev in ctx.events if ev.blocks_regular_bookings]
        + [
            b.range
            for b in ctx.blackouts
            if (b.kind != BlackoutKind.NO_PETS or service.involves_pets)
            and (b.resource_id is None or b.resource_id == rid)
        ]
    )
    busy = _Windows(ctx.busy.get(rid, [])) if sync_external else None
    profile = _Profile(ctx.occupancy.get(rid))
    duration, before, after = service.duration, service.buffer_before, service.buffer_after
    out = []
    for start in starts:
        end = start + duration
        ok = (
            (windows is None or windows.contains(start, end))
            and not blocks.overlaps(start, end)
            and (busy is None or not busy.overlaps(start - before, end + after))
            and profile.peak(start - before, end + after) <= room
        )
        out.append(ok)
    return out


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
    free = {rid: _free_starts(ctx, service, rid, starts, party_size, sync_external) for rid in pool}
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
