"""Recurring bookings: a series is stored once (its RRULE), each occurrence is a reservation.

``"rrule"`` on a hold or a booking books every occurrence that passes the rules and reports the
others as ``conflicts``; ``"allOrNothing": true`` refuses the whole series instead. A ``"scope"``
on cancel, reschedule or book ("this", "following", "all") acts on one occurrence or many, each
occurrence judged by the same rules as a single booking, all in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.booking.availability import (
    Occupancy,
    ScheduleContext,
    ServiceInfo,
    check_booking,
    event_key,
    validate_party_size,
)
from hub.booking.base import reject_unknown, require_bool
from hub.booking.context import service_info
from hub.booking.reservations import SCOPES, ReservationCommands, check_reschedule_fields
from hub.booking.retry import retry_transient
from hub.booking.unit import UnitOfWork
from hub.booking.views import reservation_view
from hub.domain.capacity import units_used
from hub.domain.errors import Conflict, Invalid
from hub.domain.recurrence import _localize, occurrence_starts, validate_rrule
from hub.domain.statuses import ResourceKind, Status, check_transition
from hub.domain.timerange import TimeRange, iso_z, parse_instant
from hub.store.models import (
    Location,
    Reservation,
    ReservationResource,
    Series,
    Service,
    SpecialEvent,
)
from hub.store.types import new_id

MAX_OCCURRENCES = 366
HORIZON = timedelta(days=366)
LIVE = (Status.INITIAL.value, Status.BOOKED.value)


def series_starts(first: datetime, rule: str, tz: ZoneInfo) -> list[datetime]:
    """Occurrence starts (UTC) of a bounded rule; refuse endless or over-long series clearly."""
    upper = rule.upper()
    if "COUNT=" not in upper and "UNTIL=" not in upper:
        raise Invalid(
            f"rrule {rule!r} never ends: add COUNT=n or UNTIL=… (a series books at most "
            f"{MAX_OCCURRENCES} occurrences within one year)",
            code="rrule_unbounded",
        )
    out: list[datetime] = []
    for occ in occurrence_starts(first, rule, tz):
        if occ - first > HORIZON:
            raise Invalid(
                f"rrule {rule!r} reaches {iso_z(occ)}, more than a year after start_time; "
                "book at most one year ahead",
                code="rrule_too_long",
            )
        out.append(occ)
        if len(out) > MAX_OCCURRENCES:
            raise Invalid(
                f"rrule {rule!r} yields more than {MAX_OCCURRENCES} occurrences",
                code="rrule_too_long",
            )
    if not out:
        raise Invalid(f"rrule {rule!r} yields no occurrence from start_time")
    return out


def rule_until(rule: str, until: datetime) -> str:
    """``rule`` with its end replaced by UNTIL=``until`` (UTC), for splitting a series."""
    parts = [p for p in rule.split(";") if p.split("=", 1)[0].upper() not in ("COUNT", "UNTIL")]
    return ";".join([*parts, "UNTIL=" + until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")])


def series_view(s: Series) -> dict[str, Any]:
    """A series as the API shows it."""
    return {
        "id": s.id,
        "rrule": s.rrule,
        "dtstart": iso_z(s.dtstart),
        "timezone": s.timezone,
        "exdates": s.exdates or [],
        "uid": s.uid,
    }


def occupy(
    ctx: ScheduleContext,
    svc: ServiceInfo,
    resource_ids: list[str],
    rng: TimeRange,
    party_size: int,
    event_id: str | None,
) -> None:
    """Count an accepted occurrence in ``ctx`` so the next ones are judged with it in place."""
    infos = [ctx.resources[r] for r in resource_ids]
    spread = sum(1 for r in infos if r.kind != ResourceKind.STAFF) or 1
    block = rng.widen(svc.buffer_before, svc.buffer_after)
    for res in infos:
        units = units_used(res.kind, res.capacity, party_size, spread)
        ctx.occupancy.setdefault(res.id, Occupancy()).add(block.start, block.end, units)
    if event_id:
        for ev in ctx.events:
            if ev.id == event_id and ev.range.overlaps(rng):
                ctx.event_load[event_key(ev)] = ctx.event_load.get(event_key(ev), 0) + party_size


class SeriesCommands(ReservationCommands):
    """Recurring holds and bookings, and commands scoped to one occurrence or many."""

    # ---- create -------------------------------------------------------------------------------

    def hold(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Hold a slot, or every occurrence of a recurring hold (``rrule``)."""
        if isinstance(data, dict) and data.get("rrule") is not None:
            return self._create_series(data, Status.INITIAL, actor, origin)
        return super().hold(data, actor=actor, origin=origin)

    def create(
        self, data: dict[str, Any], *, actor: str = "api", origin: str | None = None
    ) -> dict[str, Any]:
        """Book directly, or book a recurring series (``rrule``)."""
        if isinstance(data, dict) and data.get("rrule") is not None:
            return self._create_series(data, Status.BOOKED, actor, origin)
        return super().create(data, actor=actor, origin=origin)

    @retry_transient
    def _create_series(
        self, data: dict[str, Any], status: Status, actor: str, origin: str | None
    ) -> dict[str, Any]:
        with self.uow(actor, origin) as uow:
            session = uow.session
            req = self._parse_request(session, data)
            all_or_nothing = require_bool(data, "allOrNothing")
            rule = validate_rrule(data["rrule"])
            tz = ZoneInfo(req.location.timezone)
            duration = req.rng.duration
            ranges = [TimeRange(s, s + duration) for s in series_starts(req.rng.start, rule, tz)]
            svc = service_info(req.service, duration)
            ctx = self._lock_and_load(
                uow,
                req.location,
                req.resource_ids,
                TimeRange(ranges[0].start, ranges[-1].end),
                event_id=req.event_id,
                sync_external=req.sync_external,
            )
            accepted: list[TimeRange] = []
            conflicts: list[dict[str, str]] = []
            for rng in ranges:
                try:
                    check_booking(
                        ctx,
                        svc,
                        req.resource_ids,
                        rng,
                        req.party_size,
                        event_id=req.event_id,
                        sync_external=req.sync_external,
                    )
                except Conflict as e:
                    conflicts.append(
                        {
                            "start_time": iso_z(rng.start),
                            "end_time": iso_z(rng.end),
                            "reason": e.message,
                        }
                    )
                    continue
                accepted.append(rng)
                occupy(ctx, svc, req.resource_ids, rng, req.party_size, req.event_id)
            if conflicts and (all_or_nothing or not accepted):
                first = conflicts[0]
                why = (
                    "allOrNothing refused the whole series" if all_or_nothing else "nothing booked"
                )
                raise Conflict(
                    f"{len(conflicts)} of {len(ranges)} occurrences conflict; {why} "
                    f"(first: {first['start_time']}: {first['reason']})",
                    code="series_conflict",
                    conflicts=conflicts,
                )
            customer = self._customer_for(session, data, status)
            sid = new_id()
            series = Series(
                id=sid,
                location_id=req.location.id,
                rrule=rule,
                dtstart=req.rng.start,
                timezone=req.location.timezone,
                # Conflicting occurrences are exceptions: RRULE + EXDATE describe what is booked.
                exdates=[c["start_time"] for c in conflicts],
                uid=f"{sid}@calhub",
                created_at=uow.now,
                updated_at=uow.now,
            )
            session.add(series)
            session.flush()
            rows = [
                self._insert(
                    uow, req, rng, status, customer, series_id=sid, recurrence_id=rng.start
                )
                for rng in accepted
            ]
            session.flush()
            event = "appointment.held" if status == Status.INITIAL else "appointment.created"
            for r in rows:
                self._record(uow, r, "create", event)
            out = reservation_view(rows[0])
            out.update(
                {
                    "series": series_view(series),
                    "occurrences": [reservation_view(r) for r in rows],
                    "conflicts": conflicts,
                }
            )
            return out

    # ---- scoped changes -----------------------------------------------------------------------

    @staticmethod
    def _scope(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if not isinstance(data, dict):
            return "this", data
        rest = dict(data)
        scope = rest.pop("scope", "this")
        if scope not in SCOPES:
            raise Invalid(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        return scope, rest

    def _occurrences(
        self, uow: UnitOfWork, reservation_id: str, scope: str, statuses: tuple[str, ...]
    ) -> tuple[Reservation, Series, list[Reservation]]:
        """The anchor occurrence, its series (locked first) and the occurrences in scope, locked."""
        session = uow.session
        anchor = self.get(session, Reservation, reservation_id)
        if anchor.series_id is None:
            raise Invalid(
                f"scope {scope!r} applies to an occurrence of a recurring booking; appointment "
                f"{anchor.id} is not part of a series (leave scope out or use 'this')"
            )
        # Series row first: two scoped commands on one series queue here instead of deadlocking.
        series = self.get(session, Series, anchor.series_id, lock=True)
        q = select(Reservation).where(
            Reservation.series_id == series.id, Reservation.status.in_(statuses)
        )
        if scope == "following":
            q = q.where(Reservation.start >= anchor.start)
        else:
            q = q.where(Reservation.end > uow.now)
        rows = list(session.scalars(q.order_by(Reservation.id).with_for_update()))
        session.refresh(anchor)
        rows.sort(key=lambda r: r.start)
        return anchor, series, rows

    def _earlier_exist(self, session: Session, series: Series, first: Reservation) -> bool:
        return (
            session.scalars(
                select(Reservation.id).where(
                    Reservation.series_id == series.id, Reservation.start < first.start
                )
            ).first()
            is not None
        )

    @retry_transient
    def cancel(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Cancel one appointment, or this and the following / all upcoming of its series."""
        scope, rest = self._scope(data)
        if scope == "this":
            return super().cancel(
                reservation_id, rest, actor=actor, origin=origin, expected_version=expected_version
            )
        reject_unknown(rest, {"by", "reason"}, "cancelling")
        by, reason = self._cancel_args(rest)
        with self.uow(actor, origin) as uow:
            anchor, series, rows = self._occurrences(uow, reservation_id, scope, LIVE)
            if not rows:
                raise Conflict(
                    "no occurrence in that scope can still be cancelled", code="not_changeable"
                )
            for r in rows:
                check_transition(r.status, Status.CANCELLED)
                self._apply_cancel(r, by, reason, uow.now)
            uow.session.flush()
            for r in rows:
                self._record(uow, r, "update", "appointment.cancelled", by=by, reason=reason)
            if scope == "following" and self._earlier_exist(uow.session, series, rows[0]):
                # The series now ends before this occurrence.
                series.rrule = rule_until(series.rrule, _original(rows[0]) - timedelta(seconds=1))
                series.updated_at = uow.now
            out = reservation_view(anchor)
            out["occurrences"] = [reservation_view(r) for r in rows]
            return out

    @retry_transient
    def book(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Book a hold, or this and the following / all held occurrences of a series."""
        scope, rest = self._scope(data)
        if scope == "this":
            return super().book(reservation_id, rest, actor=actor, origin=origin)
        reject_unknown(rest, {"customer", "notes"}, "booking a hold")
        if rest.get("customer") is None:
            raise Invalid("customer is required to book")
        with self.uow(actor, origin) as uow:
            anchor, _series, rows = self._occurrences(
                uow, reservation_id, scope, (Status.INITIAL.value,)
            )
            if anchor.id not in {r.id for r in rows}:
                raise Conflict(
                    f"appointment {anchor.id} is {anchor.status}, not a hold (IN)",
                    code="not_a_hold",
                )
            for r in rows:
                if r.expires_at is not None and r.expires_at <= uow.now:
                    raise Conflict(
                        f"hold expired at {iso_z(r.expires_at)}; take a new hold",
                        code="hold_expired",
                    )
            customer = self.resolve_customer(uow.session, rest["customer"])
            for r in rows:
                self._apply_booking(r, customer.id, rest, uow.now)
            uow.session.flush()
            for r in rows:
                self._record(uow, r, "update", "appointment.created")
            out = reservation_view(anchor)
            out["occurrences"] = [reservation_view(r) for r in rows]
            return out

    @retry_transient
    def reschedule(
        self,
        reservation_id: str,
        data: dict[str, Any],
        *,
        actor: str = "api",
        origin: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Move one appointment, or this and the following / all upcoming of its series.

        A scoped move shifts every occurrence by the same wall-clock offset in the location's
        zone (so 10:00 stays 10:00 across daylight-saving changes); if any occurrence would break
        a rule, nothing moves and the answer lists the conflicts.
        """
        scope, rest = self._scope(data)
        if scope == "this":
            return super().reschedule(
                reservation_id, rest, actor=actor, origin=origin, expected_version=expected_version
            )
        check_reschedule_fields(rest)
        with self.uow(actor, origin) as uow:
            session = uow.session
            anchor, series, rows = self._occurrences(uow, reservation_id, scope, LIVE)
            if anchor.id not in {r.id for r in rows}:
                raise Conflict(
                    f"appointment {anchor.id} is {anchor.status} and can no longer change",
                    code="not_changeable",
                )
            for r in rows:
                if r.status == Status.INITIAL and r.expires_at and r.expires_at <= uow.now:
                    raise Conflict("hold expired; take a new hold", code="hold_expired")
            location = self.get(session, Location, anchor.location_id)
            tz = ZoneInfo(location.timezone)
            new_start = (
                parse_instant(rest["start_time"], "start_time")
                if "start_time" in rest
                else anchor.start
            )
            if "end_time" in rest:
                duration = parse_instant(rest["end_time"], "end_time") - new_start
            else:
                duration = anchor.end - anchor.start
            TimeRange(new_start, new_start + duration)  # end after start, or Invalid
            shift = _wall(new_start, tz) - _wall(anchor.start, tz)
            party = validate_party_size(rest["partySize"]) if "partySize" in rest else None
            new_resources = (
                self._resource_ids(rest["resourceIds"]) if "resourceIds" in rest else None
            )
            sync_external = require_bool(rest, "syncExternal")
            plans: list[tuple[Reservation, TimeRange, int, list[str]]] = []
            for r in rows:
                start = _localize(_wall(r.start, tz) + shift, tz)
                plans.append(
                    (
                        r,
                        TimeRange(start, start + duration),
                        party or r.party_size,
                        new_resources or r.resource_ids,
                    )
                )
            all_resources = sorted({rid for _, _, _, ids in plans for rid in ids})
            window = TimeRange(min(p[1].start for p in plans), max(p[1].end for p in plans))
            event_ids = {r.event_id for r in rows if r.event_id}
            ctx = self._lock_and_load(
                uow,
                location,
                all_resources,
                window,
                exclude=[r.id for r in rows],
                sync_external=sync_external,
            )
            for ev_id in sorted(event_ids):  # serialise seat counting per special event
                self.get(session, SpecialEvent, ev_id, lock=True)
            services: dict[str | None, Service | None] = {}
            conflicts: list[dict[str, str]] = []
            for r, rng, size, ids in plans:
                if r.service_id not in services:
                    services[r.service_id] = (
                        session.get(Service, r.service_id) if r.service_id else None
                    )
                svc = service_info(services[r.service_id], rng.duration)
                try:
                    check_booking(
                        ctx, svc, ids, rng, size, event_id=r.event_id, sync_external=sync_external
                    )
                except Conflict as e:
                    conflicts.append(
                        {
                            "start_time": iso_z(rng.start),
                            "end_time": iso_z(rng.end),
                            "reason": e.message,
                        }
                    )
                    continue
                occupy(ctx, svc, ids, rng, size, r.event_id)
            if conflicts:
                raise Conflict(
                    f"{len(conflicts)} of {len(plans)} occurrences would conflict; nothing moved "
                    f"(first: {conflicts[0]['start_time']}: {conflicts[0]['reason']})",
                    code="series_conflict",
                    conflicts=conflicts,
                )
            split = self._earlier_exist(session, series, rows[0])
            target = series
            if split:
                series.rrule = rule_until(series.rrule, _original(rows[0]) - timedelta(seconds=1))
                series.updated_at = uow.now
                sid = new_id()
                target = Series(
                    id=sid,
                    location_id=series.location_id,
                    rrule=series.rrule,
                    dtstart=plans[0][1].start,
                    timezone=series.timezone,
                    exdates=[],
                    uid=f"{sid}@calhub",
                    created_at=uow.now,
                    updated_at=uow.now,
                )
                session.add(target)
                session.flush()
            target.dtstart = plans[0][1].start
            target.rrule = rule_until(target.rrule, plans[-1][1].start)
            target.exdates = []
            target.updated_at = uow.now
            previous: dict[str, list[str]] = {}
            for r, rng, size, ids in plans:
                old_resources = previous[r.id] = r.resource_ids
                svc = service_info(services[r.service_id], rng.duration)
                significant = (rng.start, rng.end, size) != (r.start, r.end, r.party_size)
                r.start, r.end, r.party_size = rng.start, rng.end, size
                r.block_start = rng.start - svc.buffer_before
                r.block_end = rng.end + svc.buffer_after
                if ids != old_resources:
                    r.resources = [
                        ReservationResource(resource_id=rid, position=i)
                        for i, rid in enumerate(ids)
                    ]
                if "notes" in rest:
                    r.notes = rest["notes"]
                r.series_id = target.id
                r.recurrence_id = rng.start
                if significant:
                    r.sequence += 1
                r.version += 1
                r.updated_at = uow.now
            session.flush()
            for r, *_ in plans:
                self._record(
                    uow,
                    r,
                    "update",
                    "appointment.updated",
                    old_resources=previous[r.id],
                    significant=True,
                )
            out = reservation_view(anchor)
            out["series"] = series_view(target)
            out["occurrences"] = [reservation_view(p[0]) for p in plans]
            return out


def _original(r: Reservation) -> datetime:
    """The occurrence's place in its series (its start before any move of that one alone)."""
    return r.recurrence_id or r.start


def _wall(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall-clock time of an instant."""
    return value.astimezone(tz).replace(tzinfo=None)
