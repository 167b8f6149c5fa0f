"""The read side of the CalDAV face: principals, collections, items and changes as plain data.

Everything returned here is plain (frozen dataclasses, strings, closures over plain data), because
Radicale keeps using collections and items after its storage lock is released. Item text is
rendered lazily by ``hub.ical`` from plain data, so listing ETags never renders a calendar.

Sync tokens and collection tags come from the change log through the ``change_refs`` index: a
sync-collection report reads only the changes since the client's token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.booking.busy import BUSY, calendar_ref
from hub.booking.calendar_data import blackout_data, event_data, reservation_data, shift_data
from hub.booking.context import occupying_clause
from hub.domain.statuses import Role
from hub.ical.model import Audience
from hub.ical.public import public_busy_text
from hub.ical.render import calendar, reservation_vevent, timed_item_vevent, to_text
from hub.store.db import Database
from hub.store.models import (
    AppPassword,
    Blackout,
    BusyBlock,
    ChangeLog,
    ChangeRef,
    Customer,
    DavCalendar,
    Location,
    Reservation,
    ReservationResource,
    Resource,
    Service,
    Shift,
    SpecialEvent,
    User,
)

# Radicale's unbounded time range, as POSIX seconds.
TS_MIN = -62135596800
TS_MAX = 253402300800
LOCATION_KINDS = ("reservations", "shifts", "events", "blackouts", "freebusy")
USER_KINDS = ("schedule", "busy")
DATA_KEYS = {
    "reservation": "appointment",
    "shift": "shift",
    "event": "event",
    "blackout": "blackout",
}


@dataclass(frozen=True)
class DavPrincipal:
    """A calhub user as CalDAV sees them."""

    id: str
    username: str
    role: str
    location_id: str | None
    resource_id: str | None
    display_name: str | None
    email: str | None


@dataclass(frozen=True)
class DavLocation:
    """A location whose collections a principal can see."""

    id: str
    slug: str
    name: str
    timezone: str


@dataclass(frozen=True)
class View:
    """One collection: what it shows, for whom, and which change refs and entities feed it."""

    kind: str  # reservations|shifts|events|blackouts|freebusy|schedule|personal
    owner: DavPrincipal
    name: str  # last path segment
    location: DavLocation | None = None
    audience: Audience = Audience.MANAGER

    @property
    def refs(self) -> tuple[str, ...]:
        """Change refs whose changes may alter this collection."""
        own = calendar_ref(self.owner.id, self.name)
        if self.location is not None:
            return (f"location:{self.location.id}", own)
        if self.kind == "schedule":
            rid = self.owner.resource_id
            return (f"resource:{rid}", own) if rid else (own,)
        return (own,)

    @property
    def entities(self) -> tuple[str, ...]:
        """Change-log entities shown here."""
        return {
            "reservations": ("reservation",),
            "shifts": ("shift",),
            "events": ("event",),
            "blackouts": ("blackout",),
            "freebusy": ("reservation", "blackout", "busy_block"),
            "schedule": ("reservation", "shift"),
            "personal": ("busy_block",),
        }[self.kind]


@dataclass
class DavEntry:
    """One item: precomputed identity, ETag and enclosing time range; text now or on demand."""

    href: str
    uid: str
    etag: str
    start_ts: int
    end_ts: int
    exact: bool  # (start_ts, end_ts) is exactly Radicale's enclosing range
    updated: datetime
    entity: str
    entity_id: str
    version: int
    component: str = "VEVENT"
    text: str | None = None
    render: Callable[[], str] | None = field(default=None, repr=False)


def ts(dt: datetime) -> int:
    """POSIX seconds of an aware datetime, clamped to Radicale's bounds."""
    if dt.year <= 1:
        return TS_MIN
    if dt.year >= 9999:
        return TS_MAX
    return int(dt.timestamp())


def from_ts(value: int) -> datetime:
    """The inverse of ``ts`` for storing Radicale's enclosing ranges."""
    if value <= TS_MIN + 86400:
        return datetime(1, 1, 2, tzinfo=UTC)
    if value >= TS_MAX - 86400:
        return datetime(9999, 12, 30, tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def href_for(uid: str) -> str:
    """The stable resource name of a calhub object: its UID plus .ics."""
    return f"{uid}.ics"


def sync_scope(path: str) -> str:
    """A short, stable id of a collection path for its sync tokens."""
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def _principal(u: User) -> DavPrincipal:
    return DavPrincipal(
        u.id, u.username, u.role, u.location_id, u.resource_id, u.display_name, u.email
    )


def _loc(loc: Location) -> DavLocation:
    return DavLocation(loc.id, loc.slug, loc.name, loc.timezone)


class DavQueries:
    """Read-only queries for the Radicale plugin."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))

    # ---- principals and homes ------------------------------------------------------------------

    def principal(self, username: str) -> DavPrincipal | None:
        """The user called ``username``, or None."""
        with self.db.reader() as s:
            u = s.scalars(select(User).where(User.username == username)).first()
            return _principal(u) if u else None

    def principals(self) -> list[DavPrincipal]:
        """Every calhub user (principal-property-search answers from this)."""
        with self.db.reader() as s:
            return [_principal(u) for u in s.scalars(select(User).order_by(User.username))]

    def live_password_hashes(self, username: str) -> set[str]:
        """The user's password hash and their unrevoked app-password hashes."""
        with self.db.reader() as s:
            u = s.scalars(select(User).where(User.username == username)).first()
            if u is None:
                return set()
            out = {u.password_hash}
            out.update(
                s.scalars(
                    select(AppPassword.password_hash).where(
                        AppPassword.user_id == u.id, AppPassword.revoked_at.is_(None)
                    )
                )
            )
            return out

    def app_passwords(self, username: str) -> list[dict[str, Any]]:
        """A user's app passwords for listing (ids, names, dates; never the hashes)."""
        from hub.domain.errors import NotFound
        from hub.domain.timerange import iso_z

        with self.db.reader() as s:
            u = s.scalars(select(User).where(User.username == username)).first()
            if u is None:
                raise NotFound(f"user {username} does not exist")
            rows = s.scalars(
                select(AppPassword)
                .where(AppPassword.user_id == u.id)
                .order_by(AppPassword.created_at)
            )
            return [
                {
                    "id": a.id,
                    "name": a.name,
                    "createdAt": iso_z(a.created_at),
                    "lastUsedAt": iso_z(a.last_used_at) if a.last_used_at else None,
                    "revokedAt": iso_z(a.revoked_at) if a.revoked_at else None,
                }
                for a in rows
            ]

    def matching_hash(self, username: str, password: str) -> str | None:
        """Which live hash ``password`` matches (called once per fresh login)."""
        from hub.crypto import check_password

        for h in sorted(self.live_password_hashes(username)):
            if check_password(h, password):
                return h
        return None

    def locations_for(self, p: DavPrincipal) -> list[DavLocation]:
        """Locations whose collections ``p`` sees: a manager's own, or all when they have none."""
        with self.db.reader() as s:
            q = select(Location).order_by(Location.slug)
            if p.role != Role.MANAGER or p.location_id:
                if not p.location_id:
                    return []
                q = q.where(Location.id == p.location_id)
            return [_loc(loc) for loc in s.scalars(q)]

    def calendars_of(self, p: DavPrincipal) -> dict[str, tuple[str, dict[str, str]]]:
        """{name: (kind, props)} of the user's own calendars and display overrides."""
        with self.db.reader() as s:
            return {
                c.name: (c.kind, dict(c.props or {}))
                for c in s.scalars(select(DavCalendar).where(DavCalendar.user_id == p.id))
            }

    def current_seq(self, refs: Iterable[str]) -> int:
        """The latest change-log seq touching any of ``refs`` (the collection's tag)."""
        best = 0
        with self.db.reader() as s:
            for ref in refs:
                value = s.scalar(select(func.max(ChangeRef.seq)).where(ChangeRef.ref == ref))
                best = max(best, int(value or 0))
        return best

    def change_time(self, seq: int) -> datetime | None:
        """When change ``seq`` was committed."""
        if not seq:
            return None
        with self.db.reader() as s:
            return s.scalar(select(ChangeLog.at).where(ChangeLog.seq == seq))

    def changed_hrefs(self, view: View, since: int, until: int) -> set[str]:
        """Hrefs of items changed in ``view`` after seq ``since`` (up to ``until``)."""
        with self.db.reader() as s:
            rows = s.execute(
                select(ChangeRef.entity, ChangeRef.entity_id, ChangeLog.data)
                .join(ChangeLog, ChangeLog.seq == ChangeRef.seq)
                .where(
                    ChangeRef.ref.in_(view.refs),
                    ChangeRef.seq > since,
                    ChangeRef.seq <= until,
                    ChangeRef.entity.in_(view.entities),
                )
                .order_by(ChangeRef.seq)
            ).all()
        out: set[str] = set()
        for entity, entity_id, data in rows:
            data = data or {}
            if entity == "busy_block":
                if view.kind == "personal" and data.get("calendar") == view.name:
                    out.add(data.get("href") or "")
                elif view.kind == "freebusy" and data.get("calendar") == BUSY:
                    out.add(f"busy-{entity_id}.ics")
            else:
                uid = (data.get(DATA_KEYS.get(entity, entity)) or {}).get("uid")
                if uid:
                    out.add(href_for(uid))
        out.discard("")
        return out

    # ---- items ---------------------------------------------------------------------------------

    def entries(
        self,
        view: View,
        *,
        window: tuple[datetime, datetime] | None = None,
        hrefs: Iterable[str] | None = None,
    ) -> list[DavEntry]:
        """Items of ``view``: all of them, those overlapping ``window``, or those named."""
        wanted = None if hrefs is None else set(hrefs)
        if wanted is not None and not wanted:
            return []
        with self.db.reader() as s:
            out: list[DavEntry] = []
            k = view.kind
            if k in ("reservations", "freebusy", "schedule"):
                out += self._reservations(s, view, window, wanted)
            if k in ("shifts", "schedule"):
                out += self._timed(s, view, Shift, window, wanted)
            if k == "events":
                out += self._timed(s, view, SpecialEvent, window, wanted)
            if k in ("blackouts", "freebusy"):
                out += self._timed(s, view, Blackout, window, wanted)
            if k in ("personal", "freebusy"):
                out += self._blocks(s, view, window, wanted)
            return out

    def _uid_filter(self, model: Any, wanted: set[str] | None) -> Any:
        uids = [h[:-4] for h in wanted or () if h.endswith(".ics")]
        return model.uid.in_(uids)

    def _reservations(
        self,
        s: Session,
        view: View,
        window: tuple[datetime, datetime] | None,
        wanted: set[str] | None,
    ) -> list[DavEntry]:
        q = select(Reservation).where(occupying_clause(self.clock()))
        if view.location is not None:
            q = q.where(Reservation.location_id == view.location.id)
        else:
            rid = view.owner.resource_id
            if not rid:
                return []
            q = q.where(
                Reservation.id.in_(
                    select(ReservationResource.reservation_id).where(
                        ReservationResource.resource_id == rid
                    )
                )
            )
        if window is not None:
            q = q.where(Reservation.start < window[1], Reservation.end > window[0])
        if wanted is not None:
            q = q.where(self._uid_filter(Reservation, wanted))
        rows = list(s.scalars(q))
        # Load what rendering needs in a few queries; session.get then hits the identity map
        # (which holds objects weakly, so ``keep`` keeps them alive until rendering is done).
        keep: list[Any] = []
        cust_ids = {r.customer_id for r in rows if r.customer_id}
        for chunk in _chunks(sorted(cust_ids), 500):
            keep += s.scalars(select(Customer).where(Customer.id.in_(chunk)))
        keep += s.scalars(select(Service))
        keep += s.scalars(select(Location))
        res_ids = {rid for r in rows for rid in r.resource_ids}
        for chunk in _chunks(sorted(res_ids), 500):
            keep += s.scalars(select(Resource).where(Resource.id.in_(chunk)))
        audience = view.audience
        out = []
        for r in rows:
            data = reservation_data(s, r)
            out.append(
                DavEntry(
                    href=href_for(r.uid),
                    uid=r.uid,
                    etag=f'"{r.id}-{r.version}"',
                    start_ts=ts(r.start),
                    end_ts=ts(r.end),
                    exact=True,
                    updated=r.updated_at,
                    entity="reservation",
                    entity_id=r.id,
                    version=r.version,
                    render=_render_reservation(data, audience),
                )
            )
        return out

    def _timed(
        self,
        s: Session,
        view: View,
        model: Any,
        window: tuple[datetime, datetime] | None,
        wanted: set[str] | None,
    ) -> list[DavEntry]:
        q = select(model)
        if view.location is not None:
            q = q.where(model.location_id == view.location.id)
        elif model is Shift and view.owner.resource_id:
            q = q.where(Shift.resource_id == view.owner.resource_id)
        else:
            return []
        if window is not None:
            q = q.where(model.start < window[1], model.range_end > window[0])
        if wanted is not None:
            q = q.where(self._uid_filter(model, wanted))
        build = {Shift: shift_data, SpecialEvent: event_data, Blackout: blackout_data}[model]
        entity = {Shift: "shift", SpecialEvent: "event", Blackout: "blackout"}[model]
        keep: list[Any] = list(s.scalars(select(Location)))  # held: the identity map is weak
        if model is Shift:
            keep += s.scalars(select(Resource).where(Resource.kind == "staff"))
        audience = Audience.PUBLIC if view.kind == "freebusy" else view.audience
        out = []
        for obj in s.scalars(q):
            exact = not obj.rrule and not getattr(obj, "all_day", False)
            out.append(
                DavEntry(
                    href=href_for(obj.uid),
                    uid=obj.uid,
                    etag=f'"{obj.id}-{obj.version}"',
                    start_ts=ts(obj.start),
                    end_ts=ts(obj.end if exact else obj.range_end),
                    exact=exact,
                    updated=obj.updated_at,
                    entity=entity,
                    entity_id=obj.id,
                    version=obj.version,
                    render=_render_timed(build(s, obj), audience),
                )
            )
        return out

    def _blocks(
        self,
        s: Session,
        view: View,
        window: tuple[datetime, datetime] | None,
        wanted: set[str] | None,
    ) -> list[DavEntry]:
        public = view.kind == "freebusy"
        if public:
            assert view.location is not None
            users = select(User.id).where(User.location_id == view.location.id)
            q = select(BusyBlock).where(
                BusyBlock.user_id.in_(users),
                BusyBlock.calendar == BUSY,
                BusyBlock.component == "VEVENT",
                BusyBlock.transparent.is_(False),
            )
            if wanted is not None:
                ids = [h[5:-4] for h in wanted if h.startswith("busy-") and h.endswith(".ics")]
                q = q.where(BusyBlock.id.in_(ids))
        else:
            q = select(BusyBlock).where(
                BusyBlock.user_id == view.owner.id, BusyBlock.calendar == view.name
            )
            if wanted is not None:
                q = q.where(BusyBlock.href.in_(sorted(wanted)))
        if window is not None:
            q = q.where(BusyBlock.start < window[1], BusyBlock.range_end > window[0])
        out = []
        for b in s.scalars(q):
            if public:
                uid = f"busy-{b.id}@calhub"
                out.append(
                    DavEntry(
                        href=f"busy-{b.id}.ics",
                        uid=uid,
                        etag=f'"{b.id}-{b.version}"',
                        start_ts=ts(b.start),
                        end_ts=ts(b.range_end),
                        exact=True,
                        updated=b.updated_at,
                        entity="busy_block",
                        entity_id=b.id,
                        version=b.version,
                        render=_render_public(b.ical or "", uid),
                    )
                )
            else:
                out.append(
                    DavEntry(
                        href=b.href or f"{b.id}.ics",
                        uid=b.uid,
                        etag=b.etag,
                        start_ts=ts(b.start),
                        end_ts=ts(b.range_end),
                        exact=True,
                        updated=b.updated_at,
                        entity="busy_block",
                        entity_id=b.id,
                        version=b.version,
                        component=b.component,
                        text=b.ical or "",
                    )
                )
        return out

    def has_uid(self, view: View, uid: str) -> bool:
        """True when an item of ``view`` already carries ``uid`` (indexed)."""
        with self.db.reader() as s:
            if view.kind == "personal":
                return (
                    s.scalars(
                        select(BusyBlock.id).where(
                            BusyBlock.user_id == view.owner.id,
                            BusyBlock.calendar == view.name,
                            BusyBlock.uid == uid,
                        )
                    ).first()
                    is not None
                )
        return bool(self.entries(view, hrefs=[href_for(uid)]))

    def item_for_write(self, view: View, href: str) -> DavEntry | None:
        """The current item at ``href`` (for a write's version check), without rendering it."""
        found = self.entries(view, hrefs=[href])
        return found[0] if found else None


def _chunks(values: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(values), n):
        yield values[i : i + n]


def _render_reservation(data: Any, audience: Audience) -> Callable[[], str]:
    return lambda: to_text(calendar([reservation_vevent(data, audience)]))


def _render_timed(data: Any, audience: Audience) -> Callable[[], str]:
    return lambda: to_text(calendar([timed_item_vevent(data, audience)]))


def _render_public(text: str, uid: str) -> Callable[[], str]:
    return lambda: public_busy_text(text, uid)
