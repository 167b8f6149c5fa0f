"""The unit of work: one transaction that writes rows, the change log and the outbox together.

Every command opens one ``UnitOfWork``; it records ``Change`` objects while it writes rows, and on
a clean exit allocates commit-ordered sequence numbers, appends the change log (with the views
each change touches) and one outbox row per target that must hear of it, then commits. Any
exception rolls all of it back: a refused command leaves no row, no log entry, no outbox row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.domain.timerange import utcnow
from hub.store.db import Database
from hub.store.models import ChangeLog, ChangeRef, Counter, Outbox

CHANGE_COUNTER = "change_log"


@dataclass
class Change:
    """One change to one object, as the change log and the outbox see it."""

    entity: str
    entity_id: str
    op: str  # create | update | delete
    event: str  # appointment.created, shift.updated, …
    version: int = 1
    refs: set[str] = field(default_factory=set)  # views it touches: location:<id>, resource:<id>…
    data: dict[str, Any] = field(default_factory=dict)
    origin_integration_id: str | None = None


@dataclass
class OutboxSpec:
    """A delivery the fan-out decided is owed for a change."""

    target: str  # integration | webhook | mail
    object_key: str
    event: str
    payload: dict[str, Any]
    integration_id: str | None = None
    webhook_id: str | None = None
    not_before: datetime | None = None


# fan-out: (session, change, seq) -> deliveries. Set by the Services container (hub.sync.fanout).
FanOut = Callable[[Session, Change, int], list[OutboxSpec]]


class UnitOfWork:
    """A write transaction that records changes; see the module docstring."""

    def __init__(self, session: Session, actor: str, origin_integration_id: str | None) -> None:
        self.session = session
        self.actor = actor
        self.origin_integration_id = origin_integration_id
        self.changes: list[Change] = []
        self.now = utcnow()
        self.seqs: list[int] = []
        self.wrote_outbox = False

    def record(self, change: Change) -> Change:
        """Queue a change for the change log and the outbox of this transaction."""
        if change.origin_integration_id is None:
            change.origin_integration_id = self.origin_integration_id
        self.changes.append(change)
        return change

    def _next_seqs(self, n: int) -> list[int]:
        # UPDATE … RETURNING takes the counter row's lock until commit, so sequence numbers are
        # handed out in commit order: a sync token never skips a change that commits later.
        row = self.session.execute(
            update(Counter)
            .where(Counter.name == CHANGE_COUNTER)
            .values(value=Counter.value + n)
            .returning(Counter.value)
        ).scalar_one_or_none()
        if row is None:
            self.session.add(Counter(name=CHANGE_COUNTER, value=n))
            self.session.flush()
            row = n
        return list(range(row - n + 1, row + 1))

    def flush_changes(self, fanout: FanOut | None) -> None:
        """Write change-log, change-ref and outbox rows for every recorded change."""
        if not self.changes:
            return
        self.session.flush()
        seqs = self._next_seqs(len(self.changes))
        for seq, ch in zip(seqs, self.changes, strict=True):
            self.session.add(
                ChangeLog(
                    seq=seq,
                    at=self.now,
                    entity=ch.entity,
                    entity_id=ch.entity_id,
                    op=ch.op,
                    event=ch.event,
                    version=ch.version,
                    actor=self.actor,
                    origin_integration_id=ch.origin_integration_id,
                    data=ch.data,
                )
            )
        self.session.flush()
        for seq, ch in zip(seqs, self.changes, strict=True):
            for ref in sorted(ch.refs):
                self.session.add(
                    ChangeRef(seq=seq, ref=ref, entity=ch.entity, entity_id=ch.entity_id)
                )
            for spec in fanout(self.session, ch, seq) if fanout else []:
                self.wrote_outbox = True
                self.session.add(
                    Outbox(
                        seq=seq,
                        target=spec.target,
                        integration_id=spec.integration_id,
                        webhook_id=spec.webhook_id,
                        object_key=spec.object_key,
                        event=spec.event,
                        payload=spec.payload,
                        status="pending",
                        attempts=0,
                        next_attempt_at=spec.not_before or self.now,
                        created_at=self.now,
                    )
                )
        self.seqs = seqs


class UnitOfWorkFactory:
    """Opens units of work on the write engine."""

    def __init__(self, db: Database, fanout: FanOut | None = None) -> None:
        self.db = db
        self.fanout = fanout
        # Called after a commit that wrote outbox rows (wakes an in-process worker at once).
        self.after_commit: list[Callable[[], None]] = []

    @contextmanager
    def __call__(
        self, actor: str = "system", origin_integration_id: str | None = None
    ) -> Iterator[UnitOfWork]:
        """Yield a unit of work; commit on clean exit, roll everything back on an exception."""
        session = self.db.write_session()
        uow = UnitOfWork(session, actor, origin_integration_id)
        try:
            yield uow
            uow.flush_changes(self.fanout)
            session.commit()
            if uow.wrote_outbox:
                for callback in self.after_commit:
                    callback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def current_seq(session: Session) -> int:
    """The latest committed change-log sequence number (0 when nothing has happened)."""
    value = session.execute(
        select(Counter.value).where(Counter.name == CHANGE_COUNTER)
    ).scalar_one_or_none()
    return int(value or 0)
