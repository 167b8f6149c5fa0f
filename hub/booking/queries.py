"""Read-side queries: lists with paging and filters, and availability."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hub.booking.availability import find_slots
from hub.booking.context import load_context, service_info
from hub.booking.views import (
    blackout_view,
    customer_view,
    event_view,
    location_view,
    reservation_view,
    resource_view,
    service_view,
    shift_view,
)
from hub.domain.errors import Invalid, NotFound
from hub.domain.statuses import Status
from hub.domain.timerange import TimeRange, iso_z, parse_date, parse_instant, utcnow
from hub.store.db import Database
from hub.store.models import (
    Blackout,
    Customer,
    Location,
    Reservation,
    ReservationResource,
    Resource,
    Service,
    Shift,
    SpecialEvent,
)

MAX_PAGE = 500
MAX_OFFSET = 1_000_000_000  # beyond any real table; bigger numbers overflow SQL integers
LISTS: dict[str, tuple[type, Callable[[Any], dict[str, Any]], str]] = {
    "locations": (Location, location_view, "location"),
    "services": (Service, service_view, "service"),
    "resources": (Resource, resource_view, "resource"),
    "customers": (Customer, customer_view, "customer"),
    "shifts": (Shift, shift_view, "shift"),
    "blackouts": (Blackout, blackout_view, "blackout"),
    "events": (SpecialEvent, event_view, "special event"),
}
FILTERS = {
    "locationId": "location_id",
    "resourceId": "resource_id",
    "kind": "kind",
    "email": "email",
}


def page_args(args: dict[str, Any]) -> tuple[int, int]:
    """(limit, offset) from query arguments, validated."""
    try:
        limit = int(args.get("limit", 100))
        offset = int(args.get("offset", 0))
    except (TypeError, ValueError) as e:
        raise Invalid("limit and offset must be whole numbers") from e
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise Invalid(f"limit must be 1–{MAX_PAGE} and offset 0–{MAX_OFFSET}")
    return limit, offset


class Queries:
    """Read-only access for the API, CalDAV and feeds."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def get(self, kind: str, obj_id: str) -> dict[str, Any]:
        """One set-up object by id."""
        model, view, name = LISTS[kind]
        with self.db.reader() as s:
            obj = s.get(model, obj_id)
            if obj is None:
                raise NotFound(f"{name} {obj_id} does not exist")
            return view(obj)

    def list(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """A page of set-up objects, optionally filtered by location, resource, kind or email."""
        model, view, _ = LISTS[kind]
        limit, offset = page_args(args)
        q = select(model)
        for arg, column in FILTERS.items():
            if args.get(arg) and hasattr(model, column):
                value = str(args[arg])
                if arg == "email":
                    value = value.strip().lower()  # addresses are stored lower-cased
                q = q.where(getattr(model, column) == value)
        order = model.start if hasattr(model, "start") else model.created_at
        with self.db.reader() as s:
            total = s.scalar(select(func.count()).select_from(q.subquery()))
            rows = s.scalars(q.order_by(order, model.id).limit(limit).offset(offset)).all()
            return {
                "data": [view(r) for r in rows],
                "count": len(rows),
                "total": total,
                "limit": limit,
                "offset": offset,
            }

    def appointments(self, args: dict[str, Any]) -> dict[str, Any]:
        """A page of appointments filtered by time, status, resource or customer e-mail."""
        limit, offset = page_args(args)
        q = select(Reservation)
        if args.get("start"):
            q = q.where(Reservation.end > parse_instant(args["start"], "start"))
        if args.get("end"):
            q = q.where(Reservation.start < parse_instant(args["end"], "end"))
        if args.get("status"):
            wanted = [x.strip() for x in str(args["status"]).split(",") if x.strip()]
            known = [st.value for st in Status]
            unknown = [x for x in wanted if x not in known]
            if unknown:
                raise Invalid(f"status {unknown[0]!r} is unknown; use one of {', '.join(known)}")
            q = q.where(Reservation.status.in_(wanted))
        if args.get("locationId"):
            q = q.where(Reservation.location_id == args["locationId"])
        if args.get("resourceId"):
            q = q.where(
                Reservation.id.in_(
                    select(ReservationResource.reservation_id).where(
                        ReservationResource.resource_id == args["resourceId"]
                    )
                )
            )
        if args.get("customerEmail"):
            q = q.join(Customer, Customer.id == Reservation.customer_id).where(
                Customer.email == str(args["customerEmail"]).lower()
            )
        with self.db.reader() as s:
            total = s.scalar(select(func.count()).select_from(q.subquery()))
            rows = s.scalars(
                q.order_by(Reservation.start, Reservation.id).limit(limit).offset(offset)
            ).all()
            return {
                "data": [reservation_view(r) for r in rows],
                "count": len(rows),
                "total": total,
                "limit": limit,
                "offset": offset,
            }

    def availability(self, args: dict[str, Any]) -> dict[str, Any]:
        """Free slots for a service between two dates (the location's local dates)."""
        service_id = args.get("serviceId")
        if not service_id:
            raise Invalid("serviceId is required")
        round_robin = str(args.get("roundRobin", "NONE")).upper()
        if round_robin not in ("NONE", "RANDOM", "BALANCED"):
            raise Invalid("roundRobin must be NONE, RANDOM or BALANCED")
        try:
            party_size = int(args.get("partySize", 1))
        except (TypeError, ValueError) as e:
            raise Invalid("partySize must be a whole number") from e
        sync_external = str(args.get("syncExternal", "false")).lower() == "true"
        with self.db.reader() as s:
            service = s.get(Service, service_id)
            if service is None:
                raise NotFound(f"service {service_id} does not exist")
            loc_id = args.get("locationId") or service.location_id
            location = s.get(Location, loc_id)
            if location is None:
                raise NotFound(f"location {loc_id} does not exist")
            if service.location_id != location.id:
                raise Invalid("the service belongs to another location")
            tz = ZoneInfo(location.timezone)
            start_date = parse_date(args.get("startDate"), "startDate")
            end_date = parse_date(args.get("endDate", args.get("startDate")), "endDate")
            if end_date < start_date:
                raise Invalid("endDate must not be before startDate")
            if (end_date - start_date).days > 92:
                raise Invalid("ask for at most 92 days of availability at once")
            window = TimeRange(
                datetime.combine(start_date, datetime.min.time(), tz).astimezone(ZoneInfo("UTC")),
                datetime.combine(end_date + timedelta(days=1), datetime.min.time(), tz).astimezone(
                    ZoneInfo("UTC")
                ),
            )
            resource_ids = None
            if args.get("resourceIds"):
                resource_ids = [r for r in str(args["resourceIds"]).split(",") if r]
            now = self.clock()
            ctx = load_context(
                s, location, window, now, resource_ids=resource_ids, with_busy=sync_external
            )
            slots = find_slots(
                ctx,
                service_info(service),
                window,
                party_size,
                resource_ids=resource_ids,
                round_robin=round_robin,
                step=timedelta(minutes=location.slot_interval),
                sync_external=sync_external,
                not_before=now,
            )
        days: dict[str, list[dict[str, str]]] = {}
        times = []
        last: datetime | None = None
        st = en = ""
        for slot in slots:  # sorted by start; NONE repeats a start once per free resource
            if slot.start != last:
                last = slot.start
                st, en = iso_z(slot.start), iso_z(slot.end)
                day = slot.start.astimezone(tz).date().isoformat()
                days.setdefault(day, []).append({"start_time": st, "end_time": en})
            times.append(
                {
                    "start_time": st,
                    "end_time": en,
                    "resourceIds": list(slot.resource_ids),
                    "locationId": location.id,
                }
            )
        return {
            "serviceId": service.id,
            "locationId": location.id,
            "timezone": location.timezone,
            "availableDays": days,
            "availableTimes": times,
        }
