"""Claiming and settling outbox rows.

The outbox rows themselves are written by commands (``hub.booking.unit``); this module only
moves their *delivery state* (claimed, done, retry later, dead). Rows for the same target and
object leave strictly in order: a row is claimable only when no earlier row for that pair is
still pending. On PostgreSQL several workers claim with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from hub.store.db import Database
from hub.store.models import Outbox
from hub.sync.delivery import Delivery


def _same_stream(a: type[Outbox], b: type[Outbox]):  # noqa: ANN202 - SQLAlchemy expression
    return and_(
        a.target == b.target,
        a.object_key == b.object_key,
        func.coalesce(a.integration_id, "") == func.coalesce(b.integration_id, ""),
        func.coalesce(a.webhook_id, "") == func.coalesce(b.webhook_id, ""),
    )


def claim(
    db: Database,
    worker_id: str,
    now: datetime,
    *,
    limit: int = 20,
    lease: timedelta = timedelta(seconds=120),
    targets: tuple[str, ...] | None = None,
) -> list[Delivery]:
    """Claim up to ``limit`` due rows for ``worker_id`` for ``lease``; returns them as plain data."""
    earlier = aliased(Outbox)
    q = (
        select(Outbox)
        .where(
            Outbox.status == "pending",
            Outbox.next_attempt_at <= now,
            or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now),
            ~exists().where(
                _same_stream(earlier, Outbox), earlier.status == "pending", earlier.id < Outbox.id
            ),
        )
        .order_by(Outbox.id)
        .limit(limit)
    )
    if targets:
        q = q.where(Outbox.target.in_(targets))
    with db.write_session() as s, s.begin():
        rows = list(s.scalars(q.with_for_update(skip_locked=True, of=Outbox)))
        out = []
        for r in rows:
            r.claimed_until = now + lease
            r.claimed_by = worker_id
            out.append(
                Delivery(
                    r.id,
                    r.seq,
                    r.target,
                    r.integration_id,
                    r.webhook_id,
                    r.object_key,
                    r.event,
                    dict(r.payload or {}),
                    r.attempts,
                )
            )
        return out


def mark_done(db: Database, delivery_id: int, worker_id: str, now: datetime) -> None:
    """Settle a delivered row (only if this worker still holds it)."""
    with db.write_session() as s, s.begin():
        s.execute(
            update(Outbox)
            .where(Outbox.id == delivery_id, Outbox.claimed_by == worker_id)
            .values(
                status="done",
                done_at=now,
                claimed_until=None,
                last_error=None,
                attempts=Outbox.attempts + 1,
            )
        )


def mark_failed(
    db: Database,
    delivery_id: int,
    worker_id: str,
    error: str,
    *,
    retry_at: datetime | None,
    now: datetime,
) -> None:
    """Schedule a retry at ``retry_at``, or move the row to the dead-letter list when None."""
    values: dict[str, object] = {
        "attempts": Outbox.attempts + 1,
        "last_error": error[:2000],
        "claimed_until": None,
    }
    if retry_at is None:
        values.update(status="dead", done_at=now)
    else:
        values.update(next_attempt_at=retry_at)
    with db.write_session() as s, s.begin():
        s.execute(
            update(Outbox)
            .where(Outbox.id == delivery_id, Outbox.claimed_by == worker_id)
            .values(**values)
        )


def retry_dead(
    db: Database,
    *,
    delivery_id: int | None = None,
    integration_id: str | None = None,
    now: datetime,
) -> int:
    """Put dead-lettered rows back in the queue (all, one, or one integration's)."""
    q = update(Outbox).where(Outbox.status == "dead")
    if delivery_id is not None:
        q = q.where(Outbox.id == delivery_id)
    if integration_id is not None:
        q = q.where(Outbox.integration_id == integration_id)
    with db.write_session() as s, s.begin():
        result = s.execute(
            q.values(status="pending", next_attempt_at=now, attempts=0, done_at=None)
        )
        return int(result.rowcount or 0)


def mark_deferred(
    db: Database, delivery_id: int, worker_id: str, reason: str, *, retry_at: datetime
) -> None:
    """Put a row back for later without counting an attempt (its integration is waiting)."""
    with db.write_session() as s, s.begin():
        s.execute(
            update(Outbox)
            .where(Outbox.id == delivery_id, Outbox.claimed_by == worker_id)
            .values(next_attempt_at=retry_at, claimed_until=None, last_error=reason[:2000])
        )


def release_integration(db: Database, integration_id: str, now: datetime) -> int:
    """Make an integration's waiting rows due now (after a reconnect)."""
    with db.write_session() as s, s.begin():
        result = s.execute(
            update(Outbox)
            .where(
                Outbox.integration_id == integration_id,
                Outbox.status == "pending",
                Outbox.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )
        return int(result.rowcount or 0)


def counts_by_integration(db: Database) -> dict[str, dict[str, int]]:
    """integration id → {"pending": n, "dead": n} (for ``calhub sync status``)."""
    out: dict[str, dict[str, int]] = {}
    with db.reader() as s:
        rows = s.execute(
            select(Outbox.integration_id, Outbox.status, func.count())
            .where(Outbox.integration_id.is_not(None), Outbox.status.in_(("pending", "dead")))
            .group_by(Outbox.integration_id, Outbox.status)
        )
        for integ, status, n in rows:
            out.setdefault(integ, {"pending": 0, "dead": 0})[status] = int(n)
    return out
