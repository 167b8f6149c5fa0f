"""Radicale items built from the hub's plain data: identity, ETag and time range precomputed,
text rendered only when a client asks for it (so a PROPFIND of ETags renders nothing)."""

from __future__ import annotations

from typing import Any

import radicale.item as radicale_item
from radicale.item import filter as radicale_filter

from hub.booking.dav_read import DavEntry
from hub.domain.timerange import utcnow

HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


class HubItem(radicale_item.Item):
    """An item whose text comes from a pure render function on first use."""

    def __init__(self, collection: Any, entry: DavEntry) -> None:
        # Radicale's __init__ re-sanitises the collection path for every item (costly across a
        # large PROPFIND); the collection's path is already sane, so set the fields directly.
        self._collection_path = collection.path
        self.collection = collection
        self.href = entry.href
        self.last_modified = entry.updated.strftime(HTTP_DATE)
        self._text = entry.text
        self._vobject_item = None
        self._etag = entry.etag
        self._uid = entry.uid
        self._name = "VCALENDAR"
        self._component_name = entry.component
        self._time_range = (entry.start_ts, entry.end_ts)
        self.entry = entry
        self._render = entry.render

    def __copy__(self) -> HubItem:
        # Radicale's expand mutates the vobject of ``copy.copy(item)``; a copy that shared an
        # already parsed vobject would break the next expansion (getetag + calendar-data).
        clone = object.__new__(HubItem)
        clone.__dict__.update(self.__dict__)
        clone._vobject_item = None
        return clone

    def serialize(self) -> str:
        if self._text is None:
            assert self._render is not None
            self._text = self._render()
        return self._text

    @property
    def vobject_item(self) -> Any:
        if self._vobject_item is None:
            self.serialize()
        return super().vobject_item


def flag(entry: DavEntry, start: int, end: int, simple: bool) -> bool:
    """Radicale's own rule for trusting a pre-filtered item (BaseCollection.get_filtered)."""
    return entry.exact and simple and (start <= entry.start_ts or entry.end_ts <= end)


def now_http() -> str:
    """The current time as an HTTP date."""
    return utcnow().strftime(HTTP_DATE)


UNBOUNDED = (radicale_filter.TIMESTAMP_MIN, radicale_filter.TIMESTAMP_MAX)
