"""Personal CalDAV calendars: a user's ``busy`` calendar (which blocks their availability) and
calendars they create themselves. Objects are stored exactly as the client sent them.

Each write is one unit of work with a change-log entry whose refs (``cal:<user>/<name>``, and
for ``busy`` also ``resource:<id>`` and ``location:<id>``) drive CalDAV sync tokens and the
location's free/busy view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.base import CommandBase
from hub.booking.unit import Change, UnitOfWork
from hub.domain.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from hub.ical.decode import personal_facts
from hub.store.models import BusyBlock, DavCalendar, User
from hub.store.types import new_id

BUSY = "busy"
CALENDAR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9@+._-]{0,79}")
# Display properties a client may set on any collection (kept per user).
DISPLAY_PROPS = frozenset(
    {
        "D:displayname",
        "C:calendar-description",
        "ICAL:calendar-color",
        "ICAL:calendar-order",
        "C:calendar-timezone",
        "C:supported-calendar-component-set",
    }
)
MAX_TEXT = 1_000_000


@dataclass(frozen=True)
class ItemIndex:
    """What the CalDAV layer already computed about a client object (no re-parsing needed)."""

    uid: str
    etag: str
    component: str
    start: datetime
    end: datetime


def calendar_ref(user_id: str, name: str) -> str:
    """The change-ref of one collection of one user (hashed when it would not fit 80 chars)."""
    ref = f"cal:{user_id}/{name}"
    if len(ref) > 80:
        import hashlib

        ref = f"cal:{user_id}/#{hashlib.sha256(name.encode()).hexdigest()[:32]}"
    return ref


class PersonalCalendarCommands(CommandBase):
    """Commands on personal calendars and the display properties of any collection."""

    def _user(self, session: Session, user_id: str) -> User:
        return self.get(session, User, user_id)

    def _personal(self, session: Session, user_id: str, name: str) -> DavCalendar | None:
        return session.scalars(
            select(DavCalendar).where(DavCalendar.user_id == user_id, DavCalendar.name == name)
        ).first()

    def _require_calendar(self, session: Session, user_id: str, name: str) -> None:
        if name == BUSY:
            return
        cal = self._personal(session, user_id, name)
        if cal is None or cal.kind != "personal":
            raise NotFound(f"calendar {name} does not exist")

    def _refs(self, user: User, calendar: str) -> set[str]:
        refs = {f"user:{user.id}", calendar_ref(user.id, calendar)}
        if calendar == BUSY:
            if user.resource_id:
                refs.add(f"resource:{user.resource_id}")
            if user.location_id:
                refs.add(f"location:{user.location_id}")
        return refs

    def put_personal_item(
        self,
        user_id: str,
        calendar: str,
        href: str,
        text: str,
        index: ItemIndex,
        *,
        expect: str | None = None,
        actor: str = "caldav",
    ) -> dict[str, Any]:
        """Create or replace one object; ``expect`` is an ETag, "absent", or None (no check)."""
        if len(text) > MAX_TEXT:
            raise Invalid("the calendar object is larger than 1 MB")
        facts = personal_facts(text)
        with self.uow(actor) as uow:
            s = uow.session
            user = self._user(s, user_id)
            self._require_calendar(s, user_id, calendar)
            row = s.scalars(
                select(BusyBlock)
                .where(
                    BusyBlock.user_id == user_id,
                    BusyBlock.calendar == calendar,
                    BusyBlock.href == href,
                )
                .with_for_update()
            ).first()
            self._check_expect(row, expect, href)
            clash = s.scalars(
                select(BusyBlock.href).where(
                    BusyBlock.user_id == user_id,
                    BusyBlock.calendar == calendar,
                    BusyBlock.uid == index.uid,
                    BusyBlock.href != href,
                )
            ).first()
            if clash:
                raise Conflict(
                    f"UID {index.uid} is already used by {clash} in this calendar",
                    code="uid_conflict",
                )
            op = "update" if row is not None else "create"
            if row is None:
                row = BusyBlock(
                    id=new_id(),
                    user_id=user_id,
                    calendar=calendar,
                    href=href,
                    version=0,
                    created_at=uow.now,
                )
                s.add(row)
            row.resource_id = user.resource_id if calendar == BUSY else None
            row.uid = index.uid
            row.summary = facts.summary
            row.start = index.start
            row.range_end = index.end
            row.recurring = facts.recurring
            row.transparent = facts.transparent or facts.component != "VEVENT"
            row.component = facts.component
            row.ical = text
            row.etag = index.etag
            row.version = (row.version or 0) + 1
            row.updated_at = uow.now
            s.flush()
            self._record_item(uow, user, calendar, row, op)
            return {"id": row.id, "href": href, "etag": row.etag, "version": row.version}

    def import_personal_items(
        self,
        user_id: str,
        calendar: str,
        items: list[tuple[str, str, ItemIndex]],
        *,
        actor: str = "import",
    ) -> int:
        """Add many new objects (href, text, index) in one transaction (imports, benchmarks)."""
        facts = [personal_facts(text) for _href, text, _index in items]
        with self.uow(actor) as uow:
            s = uow.session
            user = self._user(s, user_id)
            self._require_calendar(s, user_id, calendar)
            hrefs = [href for href, _t, _i in items]
            uids = [index.uid for _h, _t, index in items]
            if len(set(hrefs)) != len(hrefs) or len(set(uids)) != len(uids):
                raise Conflict("the import names the same object twice", code="uid_conflict")
            for chunk_start in range(0, len(items), 500):
                chunk = uids[chunk_start : chunk_start + 500]
                clash = s.scalars(
                    select(BusyBlock.uid).where(
                        BusyBlock.user_id == user_id,
                        BusyBlock.calendar == calendar,
                        BusyBlock.uid.in_(chunk),
                    )
                ).first()
                if clash:
                    raise Conflict(f"UID {clash} is already in this calendar", code="uid_conflict")
            for (href, text, index), fact in zip(items, facts, strict=True):
                row = BusyBlock(
                    id=new_id(),
                    user_id=user_id,
                    calendar=calendar,
                    href=href,
                    resource_id=user.resource_id if calendar == BUSY else None,
                    uid=index.uid,
                    summary=fact.summary,
                    start=index.start,
                    range_end=index.end,
                    recurring=fact.recurring,
                    transparent=fact.transparent or fact.component != "VEVENT",
                    component=fact.component,
                    ical=text,
                    etag=index.etag,
                    version=1,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
                s.add(row)
                self._record_item(uow, user, calendar, row, "create")
            s.flush()
            return len(items)

    @staticmethod
    def _check_expect(row: BusyBlock | None, expect: str | None, href: str) -> None:
        if expect is None:
            return
        if expect == "absent":
            if row is not None:
                raise PreconditionFailed(f"{href} was created meanwhile")
        elif row is None or row.etag != expect:
            raise PreconditionFailed(f"{href} changed meanwhile")

    def _record_item(
        self, uow: UnitOfWork, user: User, calendar: str, row: BusyBlock, op: str
    ) -> None:
        uow.record(
            Change(
                entity="busy_block",
                entity_id=row.id,
                op=op,
                event=f"busy_block.{'deleted' if op == 'delete' else op + 'd'}",
                version=row.version,
                refs=self._refs(user, calendar),
                data={"href": row.href, "calendar": calendar, "uid": row.uid},
            )
        )

    def delete_personal_item(
        self,
        user_id: str,
        calendar: str,
        href: str,
        *,
        expect: str | None = None,
        actor: str = "caldav",
    ) -> None:
        """Delete one object from a personal calendar."""
        with self.uow(actor) as uow:
            s = uow.session
            user = self._user(s, user_id)
            row = s.scalars(
                select(BusyBlock)
                .where(
                    BusyBlock.user_id == user_id,
                    BusyBlock.calendar == calendar,
                    BusyBlock.href == href,
                )
                .with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"{href} does not exist")
            self._check_expect(row, expect, href)
            row.version += 1
            self._record_item(uow, user, calendar, row, "delete")
            s.delete(row)

    # ---- calendars and their properties -------------------------------------------------------

    def create_personal_calendar(
        self, user_id: str, name: str, props: dict[str, str], *, actor: str = "caldav"
    ) -> None:
        """A new personal calendar (MKCALENDAR); its objects do not block availability."""
        if not CALENDAR_NAME.fullmatch(name or ""):
            raise Invalid("calendar names are letters, digits, '@', '+', '.', '_' or '-' (max 80)")
        with self.uow(actor) as uow:
            s = uow.session
            self._user(s, user_id)
            existing = self._personal(s, user_id, name)
            if name == BUSY or (existing is not None and existing.kind == "personal"):
                raise Conflict(f"calendar {name} already exists", code="calendar_exists")
            clean = {k: v for k, v in props.items() if k in DISPLAY_PROPS and isinstance(v, str)}
            if existing is None:
                existing = DavCalendar(id=new_id(), user_id=user_id, name=name, created_at=uow.now)
                s.add(existing)
                existing.version = 1
            else:
                existing.version += 1
            existing.kind = "personal"
            existing.props = clean
            existing.updated_at = uow.now
            s.flush()
            uow.record(
                Change(
                    "dav_calendar",
                    existing.id,
                    "create",
                    "dav_calendar.created",
                    refs={f"user:{user_id}", calendar_ref(user_id, name)},
                    data={"name": name},
                )
            )

    def set_calendar_props(
        self, user_id: str, name: str, props: dict[str, str], *, actor: str = "caldav"
    ) -> None:
        """Replace a user's display properties (name, colour, order…) of one collection."""
        unknown = sorted(k for k in props if k not in DISPLAY_PROPS and k != "tag")
        if unknown:
            raise Forbidden(f"property {unknown[0]} cannot be changed here")
        clean = {k: v for k, v in props.items() if k in DISPLAY_PROPS and isinstance(v, str)}
        with self.uow(actor) as uow:
            s = uow.session
            self._user(s, user_id)
            row = self._personal(s, user_id, name)
            if row is None:
                row = DavCalendar(
                    id=new_id(), user_id=user_id, name=name, kind="view", created_at=uow.now
                )
                row.version = 0
                s.add(row)
            row.props = clean
            row.version += 1
            row.updated_at = uow.now
            s.flush()
            uow.record(
                Change(
                    "dav_calendar",
                    row.id,
                    "update",
                    "dav_calendar.updated",
                    refs={f"user:{user_id}", calendar_ref(user_id, name)},
                    data={"name": name},
                )
            )

    def delete_personal_calendar(self, user_id: str, name: str, *, actor: str = "caldav") -> None:
        """Delete a calendar the user created, with its objects (``busy`` cannot be deleted)."""
        if name == BUSY:
            raise Forbidden("the busy calendar belongs to calhub and cannot be deleted")
        with self.uow(actor) as uow:
            s = uow.session
            row = self._personal(s, user_id, name)
            if row is None or row.kind != "personal":
                raise NotFound(f"calendar {name} does not exist")
            for block in s.scalars(
                select(BusyBlock).where(BusyBlock.user_id == user_id, BusyBlock.calendar == name)
            ):
                s.delete(block)
            uow.record(
                Change(
                    "dav_calendar",
                    row.id,
                    "delete",
                    "dav_calendar.deleted",
                    refs={f"user:{user_id}", calendar_ref(user_id, name)},
                    data={"name": name},
                )
            )
            s.delete(row)
