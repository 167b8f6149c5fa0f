"""find_slots (the fast sweep) offers exactly what blocking_reason (the rule) accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.booking.availability import (
    Blocked,
    EventInfo,
    Occupancy,
    ResourceInfo,
    ScheduleContext,
    ServiceInfo,
    blocking_reason,
    candidate_starts,
    find_slots,
)
from hub.domain.hours import merge, opening_windows
from hub.domain.timerange import TimeRange

DAY = datetime(2026, 3, 28, tzinfo=UTC)  # spans the Paris spring-forward night
WINDOW = TimeRange(DAY, DAY + timedelta(days=2))
minutes = st.integers(min_value=0, max_value=2 * 24 * 60 - 15).map(lambda m: m - m % 15)


@st.composite
def ranges(draw: st.DrawFn, max_len: int = 600) -> TimeRange:
    start = DAY + timedelta(minutes=draw(minutes))
    length = draw(st.integers(min_value=1, max_value=max_len // 15)) * 15
    return TimeRange(start, start + timedelta(minutes=length))


@st.composite
def contexts(draw: st.DrawFn) -> tuple[ScheduleContext, ServiceInfo, int]:
    tz = draw(st.sampled_from(["UTC", "Europe/Paris", "Asia/Kolkata"]))
    kinds = draw(st.lists(st.sampled_from(["staff", "table", "area"]), min_size=1, max_size=4))
    resources = {
        f"r{i}": ResourceInfo(f"r{i}", k, draw(st.integers(1, 6)), f"R{i}")
        for i, k in enumerate(kinds)
    }
    from zoneinfo import ZoneInfo

    hours = draw(
        st.one_of(
            st.none(),
            st.just({d: [["09:00", "18:00"]] for d in ("mon", "tue", "sat", "sun")}),
            st.just({"sat": [["08:00", "12:00"], ["14:00", "23:30"]], "sun": [["00:00", "04:00"]]}),
        )
    )
    ctx = ScheduleContext(
        location_id="loc",
        window=WINDOW,
        opening=None if hours is None else opening_windows(hours, ZoneInfo(tz), WINDOW),
        resources=resources,
        timezone=tz,
    )
    for rid, res in resources.items():
        if res.kind == "staff":
            ctx.shifts[rid] = merge(draw(st.lists(ranges(), max_size=3)))
        occ = Occupancy()
        for rng in draw(st.lists(ranges(240), max_size=6)):
            occ.add(rng.start, rng.end, draw(st.integers(1, res.capacity)))
        ctx.occupancy[rid] = occ
        ctx.busy[rid] = draw(st.lists(ranges(120), max_size=2))
    for rng in draw(st.lists(ranges(), max_size=2)):
        kind = draw(st.sampled_from(["holiday", "closure", "no_pets"]))
        rid = draw(st.sampled_from([None, *resources]))
        ctx.blackouts.append(Blocked(rng, kind, rid, "b"))
    for i, rng in enumerate(draw(st.lists(ranges(), max_size=2))):
        ctx.events.append(EventInfo(f"e{i}", rng, "ev", 10, draw(st.booleans())))
    service = ServiceInfo(
        id="svc",
        duration=timedelta(minutes=draw(st.sampled_from([15, 30, 60, 90]))),
        buffer_before=timedelta(minutes=draw(st.sampled_from([0, 15]))),
        buffer_after=timedelta(minutes=draw(st.sampled_from([0, 10, 30]))),
        involves_pets=draw(st.booleans()),
    )
    return ctx, service, draw(st.integers(1, 5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=contexts(), sync=st.booleans(), step=st.sampled_from([15, 30, 45]))
def test_offered_slots_are_exactly_the_bookable_ones(
    case: tuple[ScheduleContext, ServiceInfo, int], sync: bool, step: int
) -> None:
    ctx, service, party = case
    offered = {
        (s.start, s.resource_ids[0])
        for s in find_slots(
            ctx, service, WINDOW, party, step=timedelta(minutes=step), sync_external=sync
        )
    }
    expected = set()
    for start in candidate_starts(ctx, WINDOW, timedelta(minutes=step)):
        rng = TimeRange(start, start + service.duration)
        if rng.end > WINDOW.end:
            continue
        for rid in ctx.resources:
            if blocking_reason(ctx, service, [rid], rng, party, sync_external=sync) is None:
                expected.add((start, rid))
    assert offered == expected


def test_grid_follows_local_wall_clock_across_dst() -> None:
    ctx = ScheduleContext("loc", WINDOW, None, {}, timezone="Europe/Paris")
    starts = candidate_starts(ctx, WINDOW, timedelta(minutes=60))
    from zoneinfo import ZoneInfo

    local = [s.astimezone(ZoneInfo("Europe/Paris")) for s in starts]
    assert all(t.minute == 0 for t in local)
    # Sunday 29 March 2026: 02:00 local does not exist, so that day has 23 hourly starts.
    sunday = [t for t in local if t.date().isoformat() == "2026-03-29"]
    assert [t.hour for t in sunday] == [0, 1, *range(3, 24)]
    kolkata = ScheduleContext("loc", WINDOW, None, {}, timezone="Asia/Kolkata")
    ist = [
        s.astimezone(ZoneInfo("Asia/Kolkata"))
        for s in candidate_starts(kolkata, WINDOW, timedelta(minutes=60))
    ]
    assert all(t.minute == 0 for t in ist)  # 09:00 IST, not 09:30
