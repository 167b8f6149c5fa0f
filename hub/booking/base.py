"""Shared plumbing for command classes: units of work, lookups and row locks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.unit import UnitOfWorkFactory
from hub.domain.errors import Invalid, NotFound
from hub.domain.timerange import utcnow
from hub.store.db import Database
from hub.store.models import Resource

T = TypeVar("T")

# Names a person reads in "… not found" messages.
_NAMES = {
    "Location": "location",
    "Service": "service",
    "Resource": "resource",
    "Customer": "customer",
    "Reservation": "appointment",
    "Shift": "shift",
    "Blackout": "blackout",
    "SpecialEvent": "special event",
    "User": "user",
    "Integration": "integration",
    "Webhook": "webhook",
}


class CommandBase:
    """State every command class shares; subclasses add the commands of one area."""

    def __init__(
        self, db: Database, uow: UnitOfWorkFactory, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.uow = uow
        self.clock = clock

    @staticmethod
    def get(session: Session, model: type[T], obj_id: object, *, lock: bool = False) -> T:
        """Fetch a row by id or raise NotFound naming what was missing."""
        name = _NAMES.get(model.__name__, model.__name__.lower())
        if not isinstance(obj_id, str) or not obj_id:
            raise Invalid(f"{name} id must be a non-empty string")
        # Session.get: a primary-key lookup with a cached statement (and the identity map).
        if lock:
            row = session.get(model, obj_id, with_for_update=True, populate_existing=True)
        else:
            row = session.get(model, obj_id)
        if row is None:
            raise NotFound(f"{name} {obj_id} does not exist")
        return row

    @staticmethod
    def lock_resources(session: Session, ids: Iterable[str]) -> list[Resource]:
        """Lock resource rows in id order, so concurrent commands on them serialise without deadlock.

        On PostgreSQL this is ``SELECT … FOR UPDATE``; SQLite write transactions already hold the
        database write lock (``BEGIN IMMEDIATE``), so the clause is a no-op there.
        """
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = list(
            session.scalars(
                select(Resource)
                .where(Resource.id.in_(wanted))
                .order_by(Resource.id)
                .with_for_update()
            )
        )
        found = {r.id for r in rows}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound(f"resource {missing[0]} does not exist")
        return rows


def require_str(
    data: dict[str, Any], key: str, *, max_len: int = 300, optional: bool = False
) -> str | None:
    """A non-empty string field, or Invalid naming it."""
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{key} is required and must be a non-empty string")
    if len(value) > max_len:
        raise Invalid(f"{key} is longer than {max_len} characters")
    return value.strip()


def require_int(
    data: dict[str, Any], key: str, *, lo: int, hi: int, default: int | None = None
) -> int:
    """A whole-number field within [lo, hi], or Invalid naming it."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key} must be a whole number")
    if not lo <= value <= hi:
        raise Invalid(f"{key} must be between {lo} and {hi}, not {value}")
    return value


def require_bool(data: dict[str, Any], key: str, default: bool = False) -> bool:
    """A true/false field, or Invalid naming it."""
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise Invalid(f"{key} must be true or false")
    return value


def reject_unknown(data: dict[str, Any], allowed: Iterable[str], what: str) -> None:
    """Refuse fields we do not know, so a typo never silently does nothing."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise Invalid(f"unknown field(s) for {what}: {', '.join(unknown)}")
