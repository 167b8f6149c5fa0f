"""Reservation statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum

from hub.domain.errors import Conflict


class Status(StrEnum):
    """Where a reservation stands. IN and BK follow the booking-API convention (OnSched)."""

    INITIAL = "IN"  # a hold: takes the slot until booked or expired
    BOOKED = "BK"
    SEATED = "seated"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "CN"


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INITIAL: frozenset({Status.BOOKED, Status.CANCELLED}),
    Status.BOOKED: frozenset({Status.SEATED, Status.NO_SHOW, Status.COMPLETED, Status.CANCELLED}),
    Status.SEATED: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.NO_SHOW: frozenset(),
    Status.CANCELLED: frozenset(),
}

# Statuses whose reservation occupies capacity (an IN hold only until it expires).
OCCUPYING: frozenset[Status] = frozenset(
    {Status.INITIAL, Status.BOOKED, Status.SEATED, Status.COMPLETED, Status.NO_SHOW}
)
OCCUPYING_VALUES: tuple[str, ...] = tuple(s.value for s in OCCUPYING)


def check_transition(current: str, target: str) -> Status:
    """Return ``target`` as a Status if the move from ``current`` is allowed; else raise Conflict."""
    cur, new = Status(current), Status(target)
    if new not in ALLOWED_TRANSITIONS[cur]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[cur])) or "none"
        raise Conflict(
            f"a reservation in status {cur.value} cannot become {new.value} "
            f"(allowed from {cur.value}: {allowed})",
            code="invalid_transition",
        )
    return new


class Role(StrEnum):
    """What a calhub user may do."""

    MANAGER = "manager"
    STAFF = "staff"


class ResourceKind(StrEnum):
    """Kinds of bookable resources."""

    STAFF = "staff"
    TABLE = "table"
    ROOM = "room"
    AREA = "area"


class BlackoutKind(StrEnum):
    """Kinds of blackout dates."""

    HOLIDAY = "holiday"
    CLOSURE = "closure"
    NO_PETS = "no_pets"
