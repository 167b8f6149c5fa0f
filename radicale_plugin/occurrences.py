"""Occurrence ranges of recurring items, computed once per item version with Radicale's own
``visit_time_ranges`` and kept in a bounded in-process cache.

The cache is keyed by (href, ETag), and an ETag changes with every version, so no process can
hold a stale answer. With it, a time-range query decides "has an occurrence in the window?"
exactly as Radicale's matcher would, without parsing the item again on every REPORT.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import vobject
from radicale.item.filter import visit_time_ranges

MAX_ITEMS = 50_000
MAX_RANGES = 5_000
HORIZON = 3 * 366 * 86400  # endless rules are known this far ahead of their computation

Ranges = tuple[tuple[float, float], ...]
# (ranges, known_until): every occurrence starting before ``known_until`` is in ``ranges``.
Known = tuple[Ranges, float]
_cache: OrderedDict[tuple[str, str], Known | None] = OrderedDict()
_lock = threading.Lock()


def _compute(text: str, component: str) -> Known | None:
    """The item's (start, end) POSIX ranges and how far they are complete, or None when there
    are too many (Radicale then tests the item itself)."""
    try:
        vobj = vobject.readOne(text)
    except Exception:
        return None
    ranges: list[tuple[float, float]] = []
    horizon = time.time() + HORIZON
    truncated = False

    def range_fn(start, end, is_recurrence) -> bool:  # type: ignore[no-untyped-def]
        nonlocal truncated
        if not is_recurrence and start.timestamp() > horizon:
            truncated = True  # occurrences come in order: the rest start later still
            return True
        ranges.append((start.timestamp(), end.timestamp()))
        return len(ranges) > MAX_RANGES

    def infinity_fn(start) -> bool:  # type: ignore[no-untyped-def]
        return False  # keep visiting; range_fn stops at the horizon

    try:
        visit_time_ranges(vobj, component, range_fn, infinity_fn)
    except Exception:
        return None
    if len(ranges) > MAX_RANGES:
        return None
    return tuple(ranges), (horizon if truncated else float("inf"))


def ranges_of(href: str, etag: str, text_fn, component: str) -> Known | None:  # type: ignore[no-untyped-def]
    """The cached occurrence ranges of one item version (``text_fn`` renders it on a miss)."""
    key = (href, etag)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = _compute(text_fn(), component)
    with _lock:
        _cache[key] = value
        while len(_cache) > MAX_ITEMS:
            _cache.popitem(last=False)
    return value


def any_overlap(known: Known, start: float, end: float) -> bool | None:
    """Radicale's time-range test (``start < range_end and range_start < end``) over the known
    ranges; None when the window reaches past what is known."""
    ranges, known_until = known
    if end > known_until:
        return None
    return any(start < re_ and rs < end for rs, re_ in ranges)
