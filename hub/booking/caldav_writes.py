"""Commands behind CalDAV writes on calhub's own objects (reservations, shifts, events, blackouts).

The CalDAV layer hands over the client's iCalendar text; ``hub.ical.decode`` turns it into the
same change requests the API makes, and the ordinary commands apply every rule. The version the
client saw (its If-Match) travels as ``expected_version``, so a stale edit is refused (412)
instead of overwriting somebody else's change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub.booking.base import CommandBase
from hub.booking.catalog import Kind
from hub.booking.setup import BLACKOUT, EVENT, SHIFT
from hub.booking.unit import UnitOfWork
from hub.domain.errors import Conflict, Invalid, NotFound
from hub.domain.statuses import ResourceKind
from hub.ical.decode import is_cancelled, reservation_change, shift_assignee, timed_item_fields
from hub.store.models import Location, Reservation, Resource, Shift

KINDS: dict[str, Kind] = {"shift": SHIFT, "event": EVENT, "blackout": BLACKOUT}


class CalDavCommands(CommandBase):
    """Edits arriving from calendar apps, applied through the ordinary booking commands."""

    # These come from the other mixins of BookingService.
    reschedule: Any
    cancel: Any
    create_object: Any
    update_object: Any
    delete_object: Any
    _same_location: Any

    def caldav_update_reservation(
        self,
        reservation_id: str,
        text: str,
        *,
        expected_version: int | None,
        actor: str = "caldav",
    ) -> dict[str, Any]:
        """A client's edit of a reservation: reschedule, party size, notes, or a cancellation."""
        if is_cancelled(text):
            return self.caldav_cancel_reservation(
                reservation_id, expected_version=expected_version, actor=actor
            )
        with self.db.reader() as s:
            r = s.get(Reservation, reservation_id)
            if r is None:
                raise NotFound(f"appointment {reservation_id} does not exist")
            loc = s.get(Location, r.location_id)
            current = {
                "timezone": loc.timezone if loc else "UTC",
                "start": r.start,
                "end": r.end,
                "party_size": r.party_size,
                "notes": r.notes,
            }
            seen = r.version
        change = reservation_change(text, **current)
        if not change:
            return {"id": reservation_id, "version": seen, "changed": False}
        view = self.reschedule(
            reservation_id,
            change,
            actor=actor,
            expected_version=expected_version if expected_version is not None else seen,
        )
        return {**view, "changed": True}

    def caldav_cancel_reservation(
        self, reservation_id: str, *, expected_version: int | None, actor: str = "caldav"
    ) -> dict[str, Any]:
        """A DELETE of a reservation from a staff calendar: cancelled by staff."""
        return self.cancel(
            reservation_id,
            {"by": "staff", "reason": "cancelled from a calendar app"},
            actor=actor,
            expected_version=expected_version,
        )

    def _assignee(self, location_id: str, text: str) -> str | None:
        who = shift_assignee(text)
        with self.db.reader() as s:
            base = select(Resource.id).where(
                Resource.location_id == location_id, Resource.kind == ResourceKind.STAFF.value
            )
            if who["resource_id"]:
                found = s.scalars(base.where(Resource.id == who["resource_id"])).first()
                if found is None:
                    raise Invalid(f"X-CALHUB-RESOURCE-ID {who['resource_id']} is not staff here")
                return found
            if who["email"]:
                found = s.scalars(base.where(func.lower(Resource.email) == who["email"])).first()
                if found:
                    return found
            if who["name"]:
                found = s.scalars(base.where(Resource.name == who["name"])).first()
                if found:
                    return found
        return None

    def caldav_put_timed(
        self,
        kind: str,
        location_id: str,
        text: str,
        *,
        uid: str,
        existing_id: str | None,
        expected_version: int | None,
        timezone: str,
        actor: str = "caldav",
    ) -> dict[str, Any]:
        """Create or change a shift, special event or blackout from a manager's calendar app."""
        spec = KINDS[kind]
        data = timed_item_fields(text, kind, timezone)
        if kind == "shift":
            rid = self._assignee(location_id, text)
            if rid:
                data["resourceId"] = rid
            elif existing_id is None:
                raise Invalid(
                    "say whose shift this is: X-CALHUB-RESOURCE-ID, an ATTENDEE with the staff "
                    "member's e-mail, or the summary 'Shift: <name>'"
                )
            if data.get("rrule") is None:
                data["exdates"] = []
        else:
            data["locationId"] = location_id
        if kind == "blackout" and existing_id is not None and "X-CALHUB-BLACKOUT-KIND" not in text:
            data.pop("kind", None)  # keep the kind the blackout has

        def prepare(uow: UnitOfWork, obj: Any, *rest: Any) -> None:
            self._same_location(uow, obj, *rest)
            if obj.location_id != location_id:
                raise Invalid("that staff member works at another location")
            if existing_id is None:
                model = type(obj)
                if uow.session.scalars(select(model.id).where(model.uid == uid)).first():
                    raise Conflict(f"UID {uid} is already used by another {kind}")
                obj.uid = uid

        if existing_id is None:
            return self.create_object(spec, data, actor=actor, prepare=prepare)
        return self.update_object(
            spec,
            existing_id,
            data,
            actor=actor,
            prepare=prepare,
            expected_version=expected_version,
        )

    def caldav_delete_timed(
        self, kind: str, obj_id: str, *, expected_version: int | None, actor: str = "caldav"
    ) -> None:
        """Delete a shift, special event or blackout from a manager's calendar app."""
        self.delete_object(KINDS[kind], obj_id, actor=actor, expected_version=expected_version)

    def shift_location(self, shift_id: str) -> str | None:
        """The location of a shift (for the CalDAV layer's checks)."""
        with self.db.reader() as s:
            row = s.get(Shift, shift_id)
            return row.location_id if row else None
