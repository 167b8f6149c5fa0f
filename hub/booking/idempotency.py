"""Idempotency-Key bookkeeping: reserve a key, store its first answer, replay it, forget old keys.

A key is reserved by inserting a *pending* row (``status_code`` 0) in its own short transaction
before the request runs, so two concurrent requests with the same key can never both execute:
the primary key makes the second insert fail and that request is told the first is in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hub.booking.base import CommandBase
from hub.domain.errors import Conflict, Invalid
from hub.store.models import IdempotencyKey

PENDING = 0
KEY_TTL = timedelta(hours=24)
# A pending key whose request died with its process is taken over after this long.
ABANDONED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given to a key, replayed for every repeat."""

    status: int
    body: str


class IdempotencyCommands(CommandBase):
    """Reserve, complete, release and expire Idempotency-Key rows (scoped to one API key)."""

    def reserve_idempotency_key(
        self, api_key_id: str, key: str, method: str, path: str, body_hash: str
    ) -> StoredAnswer | None:
        """Claim ``key`` for this request: None means "go ahead"; a StoredAnswer means "replay".

        Raises Invalid (422) when the key was used with another request, Conflict (409) while the
        first request with this key is still running.
        """
        if not key or len(key) > 255 or not key.isprintable() or not key.isascii():
            raise Invalid("Idempotency-Key must be 1–255 printable ASCII characters, e.g. a UUID")
        for _ in range(3):
            try:
                return self._reserve_once(api_key_id, key, method, path, body_hash)
            except IntegrityError:
                continue  # lost an insert race; read the winner's row on the next turn
        raise Conflict(
            "a request with this Idempotency-Key is in progress; retry when it has finished",
            code="idempotency_in_progress",
        )

    def _reserve_once(
        self, api_key_id: str, key: str, method: str, path: str, body_hash: str
    ) -> StoredAnswer | None:
        with self.uow("idempotency") as uow:
            s, now = uow.session, uow.now
            row = s.get(IdempotencyKey, (api_key_id, key))
            if row is not None and self._is_stale(row, now):
                s.delete(row)
                s.flush()
                row = None
            if row is None:
                s.add(
                    IdempotencyKey(
                        api_key_id=api_key_id,
                        key=key,
                        method=method,
                        path=path,
                        body_hash=body_hash,
                        status_code=PENDING,
                        response_body="",
                        created_at=now,
                    )
                )
                s.flush()
                return None
            if row.body_hash != body_hash:
                raise Invalid(
                    "this Idempotency-Key was already used for a different request "
                    f"({row.method} {row.path} with another body); use a new key for a new request",
                    code="idempotency_key_reused",
                )
            if row.status_code == PENDING:
                raise Conflict(
                    "a request with this Idempotency-Key is in progress; retry when it has finished",
                    code="idempotency_in_progress",
                )
            return StoredAnswer(row.status_code, row.response_body)

    @staticmethod
    def _is_stale(row: IdempotencyKey, now: datetime) -> bool:
        age = now - row.created_at
        return age > KEY_TTL or (row.status_code == PENDING and age > ABANDONED_AFTER)

    def complete_idempotency_key(self, api_key_id: str, key: str, status: int, body: str) -> None:
        """Store the answer a reserved key's request produced."""
        with self.uow("idempotency") as uow:
            row = uow.session.get(IdempotencyKey, (api_key_id, key))
            if row is not None and row.status_code == PENDING:
                row.status_code = status
                row.response_body = body

    def release_idempotency_key(self, api_key_id: str, key: str) -> None:
        """Forget a pending key whose request failed on our side, so the client may retry it."""
        with self.uow("idempotency") as uow:
            uow.session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.api_key_id == api_key_id,
                    IdempotencyKey.key == key,
                    IdempotencyKey.status_code == PENDING,
                )
            )

    def purge_idempotency_keys(self, *, older_than: timedelta = KEY_TTL) -> int:
        """Delete keys older than ``older_than`` (24 h by default); returns how many went."""
        with self.uow("idempotency") as uow:
            cutoff = uow.now - older_than
            ids = uow.session.execute(
                select(IdempotencyKey.api_key_id, IdempotencyKey.key).where(
                    IdempotencyKey.created_at < cutoff
                )
            ).all()
            if ids:
                uow.session.execute(
                    delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
                )
            return len(ids)
