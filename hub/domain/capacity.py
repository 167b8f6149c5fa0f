"""Capacity arithmetic: how much of a resource a reservation uses, and the peak load in a window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from hub.domain.statuses import ResourceKind


def units_used(kind: str, capacity: int, party_size: int, resource_count: int) -> int:
    """Units of ``capacity`` one reservation takes on one of its resources.

    A staff member serves one appointment per unit of capacity whatever the party size. A table,
    room or area holds ``party_size`` people; a reservation spread over several of them
    (two tables for a party of eight) takes each of them whole.
    """
    if kind == ResourceKind.STAFF:
        return 1
    if resource_count > 1:
        return capacity
    return party_size


def peak_load(intervals: Iterable[tuple[datetime, datetime, int]]) -> int:
    """The largest sum of loads of half-open intervals that are active at one instant."""
    events: list[tuple[datetime, int]] = []
    for start, end, load in intervals:
        events.append((start, load))
        events.append((end, -load))
    # Ends sort before starts at the same instant: half-open ranges that touch do not overlap.
    events.sort(key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
