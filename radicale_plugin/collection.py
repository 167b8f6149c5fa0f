"""Collections handed to Radicale: immutable snapshots that query the hub only on demand.

Radicale keeps using a collection after its lock is released (PROPFIND reads meta, ctag and sync
token; REPORT renders items), so everything it reads then is computed at discover time. Reads
of items go through ``DavQueries``; writes go through booking commands, never through SQL here.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import radicale.item as radicale_item
from radicale import storage
from radicale.item.filter import simplify_prefilters

from hub.booking.busy import BUSY, ItemIndex
from hub.booking.dav_read import DavEntry, View, from_ts, href_for, sync_scope
from hub.domain.errors import Forbidden, Invalid, NotFound
from radicale_plugin import session
from radicale_plugin.items import HubItem, flag
from radicale_plugin.occurrences import any_overlap, ranges_of

SYNC_PREFIX = "http://calhub.invalid/ns/sync/"


class Folder(storage.BaseCollection):
    """The root or a principal: a plain collection without items."""

    def __init__(self, path: str, meta: Mapping[str, str] | None = None) -> None:
        self._path = path
        self._meta = dict(meta or {})

    @property
    def path(self) -> str:
        return self._path

    def get_meta(self, key: str | None = None) -> Any:
        return self._meta if key is None else self._meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise Forbidden("principal properties are managed by calhub")

    @property
    def last_modified(self) -> str:
        return "Thu, 01 Jan 2026 00:00:00 GMT"

    @property
    def etag(self) -> str:
        return f'"{sync_scope(self._path)}"'

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        raise ValueError("only calendars support sync-collection")

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        return ((h, None) for h in hrefs)

    def get_all(self) -> Iterable[radicale_item.Item]:
        return []

    def upload(self, href: str, item: radicale_item.Item) -> Any:
        raise Forbidden("calendar objects belong in a calendar, not here")

    def delete(self, href: str | None = None) -> None:
        raise Forbidden("principals and the root cannot be deleted")


class Collection(storage.BaseCollection):
    """One calendar (a ``View``) of one principal's home, as of discover time."""

    def __init__(
        self, store: Any, path: str, view: View, meta: dict[str, str], seq: int, at: datetime
    ) -> None:
        self._store = store
        self._path = path
        self.view = view
        self._meta = meta
        self._seq = seq
        self._at = at
        self._scope = sync_scope(path)

    # ---- properties ----------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    def get_meta(self, key: str | None = None) -> Any:
        return self._meta if key is None else self._meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        self._store.booking.set_calendar_props(
            self.view.owner.id, self.view.name, {k: v for k, v in props.items() if k != "tag"}
        )

    @property
    def last_modified(self) -> str:
        return email.utils.format_datetime(self._at.astimezone(UTC), usegmt=True)

    @property
    def etag(self) -> str:
        return f'"{self._scope}-{self._seq}"'

    # ---- reads ---------------------------------------------------------------------------------

    def _item(self, entry: DavEntry) -> HubItem:
        return HubItem(self, entry)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        token = f"{SYNC_PREFIX}{self._scope}/{self._seq}"
        if not old_token:
            return token, self._all_hrefs()
        if not old_token.startswith(SYNC_PREFIX):
            raise ValueError(f"not a calhub sync token: {old_token!r}")
        scope, _, seq_text = old_token[len(SYNC_PREFIX) :].partition("/")
        if scope != self._scope or not seq_text.isdigit():
            raise ValueError("the sync token belongs to another collection")
        old = int(seq_text)
        if old > self._seq:
            raise ValueError("the sync token is from the future")
        if old == self._seq:
            return token, []
        return token, sorted(self._store.queries.changed_hrefs(self.view, old, self._seq))

    def _all_hrefs(self) -> Iterator[str]:
        # Radicale's PROPFIND asks for the token only and discards the names: stay lazy.
        yield from (e.href for e in self._store.queries.entries(self.view))

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        found = {e.href: e for e in self._store.queries.entries(self.view, hrefs=wanted)}
        return [(h, self._item(found[h]) if h in found else None) for h in wanted]

    def get_all(self) -> Iterable[radicale_item.Item]:
        return [self._item(e) for e in self._store.queries.entries(self.view)]

    def get_filtered(self, filters: Iterable[Any]) -> Iterable[tuple[radicale_item.Item, bool]]:
        filters = list(filters)
        tag, start, end, simple = simplify_prefilters(filters, "VCALENDAR")
        window_start, window_end = start, end
        expand = session.current().expand_window
        if expand is not None:
            window_start = max(window_start, int(expand[0].timestamp()))
            window_end = min(window_end, int(expand[1].timestamp()))
        window = None
        if window_start > from_ts_min() or window_end < from_ts_max():
            window = (from_ts(window_start), from_ts(window_end))
        out = []
        for e in self._store.queries.entries(self.view, window=window):
            if tag is not None and e.component != tag:
                continue
            if window is not None and not (e.start_ts < window_end and e.end_ts > window_start):
                if e.exact:
                    continue
            item = self._item(e)
            trusted = flag(e, start, end, simple)
            if not trusted and (simple or expand is not None) and tag is not None:
                # A recurring item whose span covers the window: test its occurrences (cached
                # per version) instead of letting Radicale parse and expand it every time.
                known = ranges_of(e.href, e.etag, item.serialize, tag)
                hit = any_overlap(known, window_start, window_end) if known else None
                if hit is False:
                    continue
                if hit:
                    trusted = simple
            out.append((item, trusted))
        return out

    def has_uid(self, uid: str) -> bool:
        return self._store.queries.has_uid(self.view, uid)

    # ---- writes --------------------------------------------------------------------------------

    def _seen(self, href: str) -> tuple[bool, DavEntry | None]:
        key = f"{self._path}/{href}"
        state = session.current()
        if key in state.seen:
            return True, state.seen[key]
        return False, self._store.queries.item_for_write(self.view, href)

    def upload(self, href: str, item: radicale_item.Item) -> tuple[radicale_item.Item, Any]:
        view = self.view
        known, old = self._seen(href)
        booking = self._store.booking
        actor = f"caldav:{view.owner.username}"
        if view.kind == "personal":
            start, end = item.time_range
            expect = (old.etag if old else "absent") if known else None
            booking.put_personal_item(
                view.owner.id,
                view.name,
                href,
                item.serialize(),
                ItemIndex(item.uid, item.etag, item.component_name, from_ts(start), from_ts(end)),
                expect=expect,
                actor=actor,
            )
            new = self._store.queries.item_for_write(view, href)
            if new is None:  # pragma: no cover - written in the same call
                raise NotFound(f"{href} vanished after it was written")
            return self._item(new), self._item(old) if old else None
        if item.component_name != "VEVENT":
            raise Invalid("this calendar holds events (VEVENT) only")
        if view.kind in ("reservations", "schedule") and (
            old is None or old.entity == "reservation"
        ):
            if old is None:
                raise Forbidden("new bookings are made through the booking API, not in a calendar")
            booking.caldav_update_reservation(
                old.entity_id, item.serialize(), expected_version=old.version, actor=actor
            )
        elif view.kind in ("shifts", "events", "blackouts"):
            kind = view.kind[:-1]
            assert view.location is not None
            if old is None and href != href_for(item.uid):
                raise Invalid(f"name a new {kind} after its UID: {href_for(item.uid)}")
            booking.caldav_put_timed(
                kind,
                view.location.id,
                item.serialize(),
                uid=item.uid,
                existing_id=old.entity_id if old else None,
                expected_version=old.version if old else None,
                timezone=view.location.timezone,
                actor=actor,
            )
        elif view.kind == "schedule":
            raise Forbidden("shifts are changed by a manager in the location's shifts calendar")
        else:
            raise Forbidden("this calendar is read-only")
        session.current().transformed = True
        new = self._store.queries.item_for_write(view, href_for(item.uid) if old is None else href)
        if new is None:
            raise NotFound(f"{href} is no longer in this calendar")
        return self._item(new), self._item(old) if old else None

    def delete(self, href: str | None = None) -> None:
        view = self.view
        actor = f"caldav:{view.owner.username}"
        booking = self._store.booking
        if href is None:
            if view.kind == "personal" and view.name != BUSY:
                booking.delete_personal_calendar(view.owner.id, view.name, actor=actor)
                return
            raise Forbidden("this calendar belongs to calhub and cannot be deleted")
        known, old = self._seen(href)
        if old is None:
            raise NotFound(f"{href} does not exist")
        if view.kind == "personal":
            booking.delete_personal_item(
                view.owner.id, view.name, href, expect=old.etag if known else None, actor=actor
            )
        elif old.entity == "reservation" and view.kind in ("reservations", "schedule"):
            booking.caldav_cancel_reservation(
                old.entity_id, expected_version=old.version, actor=actor
            )
        elif view.kind in ("shifts", "events", "blackouts"):
            booking.caldav_delete_timed(
                view.kind[:-1], old.entity_id, expected_version=old.version, actor=actor
            )
        else:
            raise Forbidden("this item is read-only here")


def from_ts_min() -> int:
    """Radicale's lower bound of an unbounded range."""
    from radicale.item.filter import TIMESTAMP_MIN

    return TIMESTAMP_MIN


def from_ts_max() -> int:
    """Radicale's upper bound of an unbounded range."""
    from radicale.item.filter import TIMESTAMP_MAX

    return TIMESTAMP_MAX


def now() -> datetime:
    """The current instant (for snapshots without changes yet)."""
    return datetime.now(UTC)
