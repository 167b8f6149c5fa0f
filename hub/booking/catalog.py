"""Generic create/update/delete for set-up objects, each recorded in the change log and outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.booking.base import CommandBase
from hub.booking.fields import Field, apply_fields
from hub.booking.unit import Change, UnitOfWork
from hub.domain.errors import Conflict, Invalid
from hub.domain.recurrence import range_end
from hub.domain.timerange import TimeRange
from hub.store.models import Location
from hub.store.types import new_id


@dataclass(frozen=True)
class Kind:
    """How one kind of set-up object is validated, viewed and announced."""

    model: type
    entity: str  # change-log entity name
    event_prefix: str  # webhook event prefix, e.g. "shift"
    what: str  # words for messages
    spec: dict[str, Field]
    view: Callable[[Any], dict[str, Any]]
    refs: Callable[[Any], set[str]]
    versioned: bool = False  # has an iCalendar UID and SEQUENCE
    timed: bool = False  # has start/end/rrule/range_end, expanded in the location's zone


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "location"


class CatalogCommands(CommandBase):
    """create/update/delete for every ``Kind``; area classes declare kinds and call these."""

    @staticmethod
    def _flush_unique(uow: UnitOfWork, kind: Kind) -> None:
        """Flush, turning a unique-constraint clash (a taken slug) into a readable 409."""
        try:
            uow.session.flush()
        except IntegrityError as e:
            raise Conflict(
                f"this would clash with an existing record: {kind.what} with the same unique "
                "value (such as its slug) already exists, or a referenced id is gone"
            ) from e

    def _finish_timed(self, uow: UnitOfWork, obj: Any) -> None:
        TimeRange(obj.start, obj.end)  # raises Invalid when end is not after start
        loc = uow.session.get(Location, obj.location_id)
        tz = ZoneInfo(loc.timezone) if loc else ZoneInfo("UTC")
        obj.range_end = range_end(obj.start, obj.end, obj.rrule, tz)

    def _announce(
        self,
        uow: UnitOfWork,
        kind: Kind,
        obj: Any,
        op: str,
        suffix: str,
        extra_refs: set[str] | None = None,
        **data: Any,
    ) -> None:
        uow.record(
            Change(
                entity=kind.entity,
                entity_id=obj.id,
                op=op,
                event=f"{kind.event_prefix}.{suffix}",
                version=getattr(obj, "version", 1),
                refs=kind.refs(obj) | (extra_refs or set()),
                data={kind.entity: kind.view(obj), **data},
            )
        )

    def create_object(
        self,
        kind: Kind,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        prepare: Callable[[UnitOfWork, Any], None] | None = None,
    ) -> dict[str, Any]:
        """Validate and insert one object; announce ``<prefix>.created``."""
        if not isinstance(data, dict):
            raise Invalid(f"the body for {kind.what} must be a JSON object")
        with self.uow(actor, origin) as uow:
            obj = kind.model()
            obj.id = new_id()
            apply_fields(obj, data, kind.spec, creating=True, what=kind.what)
            now = uow.now
            if hasattr(obj, "created_at"):
                obj.created_at = now
            if hasattr(obj, "updated_at"):
                obj.updated_at = now
            if hasattr(obj, "version"):
                obj.version = 1
            if kind.versioned:
                obj.uid = f"{obj.id}@calhub"
                obj.sequence = 0
            if kind.model is Location and not getattr(obj, "slug", None):
                obj.slug = self._free_slug(uow, _slugify(obj.name))
            if prepare:
                prepare(uow, obj)
            if kind.timed:
                self._finish_timed(uow, obj)
            uow.session.add(obj)
            self._flush_unique(uow, kind)
            self._announce(uow, kind, obj, "create", "created")
            return kind.view(obj)

    def _free_slug(self, uow: UnitOfWork, base: str) -> str:
        candidate, n = base, 1
        while uow.session.scalars(select(Location.id).where(Location.slug == candidate)).first():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def update_object(
        self,
        kind: Kind,
        obj_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        prepare: Callable[[UnitOfWork, Any, dict[str, Any]], None] | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Validate and apply a partial update; announce ``<prefix>.updated``."""
        if not isinstance(data, dict) or not data:
            raise Invalid(f"give at least one field to change on {kind.what}")
        with self.uow(actor, origin) as uow:
            obj = self.get(uow.session, kind.model, obj_id, lock=True)
            if expected_version is not None and getattr(obj, "version", None) != expected_version:
                from hub.domain.errors import PreconditionFailed

                raise PreconditionFailed(f"{kind.what} {obj_id} changed meanwhile")
            before_refs = kind.refs(obj)
            before = kind.view(obj)
            changed = apply_fields(obj, data, kind.spec, creating=False, what=kind.what)
            if prepare:
                prepare(uow, obj, changed)
            if kind.timed:
                self._finish_timed(uow, obj)
            if not changed:
                return kind.view(obj)
            if hasattr(obj, "version"):
                obj.version += 1
            if kind.versioned and (
                {"start", "end", "rrule", "exdates", "resource_id"} & set(changed)
            ):
                obj.sequence += 1
            if hasattr(obj, "updated_at"):
                obj.updated_at = uow.now
            self._flush_unique(uow, kind)
            # Reassigning a shift is its own trigger: the old and the new staff member both hear.
            suffix = (
                "reassigned" if kind.entity == "shift" and "resource_id" in changed else "updated"
            )
            self._announce(
                uow,
                kind,
                obj,
                "update",
                suffix,
                extra_refs=before_refs,
                previous=before,
                changed=sorted(changed),
            )
            return kind.view(obj)

    def delete_object(
        self,
        kind: Kind,
        obj_id: str,
        *,
        actor: str = "api",
        origin: str | None = None,
        check: Callable[[UnitOfWork, Any], None] | None = None,
        expected_version: int | None = None,
    ) -> None:
        """Delete one object; announce ``<prefix>.deleted``. ``check`` may refuse with Conflict."""
        with self.uow(actor, origin) as uow:
            obj = self.get(uow.session, kind.model, obj_id, lock=True)
            if expected_version is not None and getattr(obj, "version", None) != expected_version:
                from hub.domain.errors import PreconditionFailed

                raise PreconditionFailed(f"{kind.what} {obj_id} changed meanwhile")
            if check:
                check(uow, obj)
            view = kind.view(obj)
            if hasattr(obj, "version"):
                obj.version += 1
            self._announce(uow, kind, obj, "delete", "deleted")
            uow.changes[-1].data[kind.entity] = view
            uow.session.delete(obj)
            try:
                uow.session.flush()
            except Exception as e:  # an FK still points here
                raise Conflict(f"{kind.what} {obj_id} is still in use and cannot be deleted") from e
