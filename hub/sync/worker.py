"""The outbox worker: claims due deliveries, hands them to the handler for their target, settles them.

Runs as a thread inside ``calhub serve`` on the embedded default, or as ``calhub worker``.
Periodic jobs (hold expiry, reminders, reconciliation) run between batches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from hub.domain.timerange import utcnow
from hub.store.db import Database
from hub.sync.delivery import Delivery, DeliveryError, Handler
from hub.sync.outbox import claim, mark_deferred, mark_done, mark_failed
from hub.sync.retry import RetryPolicy

logger = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    """A job the worker runs every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[], object]
    last: float = field(default=0.0)


# Called after each delivery with (delivery, error or None): integration status bookkeeping.
Observer = Callable[[Delivery, DeliveryError | None], None]


class OutboxWorker:
    """See module docstring."""

    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        *,
        policy: RetryPolicy | None = None,
        jobs: list[PeriodicJob] | None = None,
        observer: Observer | None = None,
        poll_seconds: float = 0.5,
        batch: int = 20,
        lease_seconds: float = 120.0,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.policy = policy or RetryPolicy()
        self.jobs = jobs or []
        self.observer = observer
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.lease = timedelta(seconds=lease_seconds)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver(self, d: Delivery) -> None:
        """Run one delivery through its handler and settle the row."""
        handler = self.handlers.get(d.target)
        now = utcnow()
        if handler is None:
            mark_failed(
                self.db,
                d.id,
                self.worker_id,
                f"no handler for target {d.target!r}",
                retry_at=now + timedelta(seconds=60),
                now=now,
            )
            return
        try:
            handler(d)
        except DeliveryError as e:
            if e.defer:
                retry_at = now + timedelta(seconds=e.retry_after or self.poll_seconds)
                mark_deferred(self.db, d.id, self.worker_id, str(e), retry_at=retry_at)
                return
            attempts = d.attempts + 1
            dead = e.permanent or self.policy.exhausted(attempts)
            retry_at = (
                None
                if dead
                else now + timedelta(seconds=self.policy.delay(attempts, e.retry_after))
            )
            logger.warning(
                "delivery %s (%s %s) failed (attempt %d): %s", d.id, d.target, d.event, attempts, e
            )
            mark_failed(self.db, d.id, self.worker_id, str(e), retry_at=retry_at, now=now)
            if self.observer:
                self.observer(d, e)
            return
        except Exception as e:  # a bug in a handler must not stop the worker
            logger.exception("delivery %s crashed its handler", d.id)
            attempts = d.attempts + 1
            mark_failed(
                self.db,
                d.id,
                self.worker_id,
                f"internal error: {e!r}",
                retry_at=now + timedelta(seconds=self.policy.delay(attempts)),
                now=now,
            )
            return
        mark_done(self.db, d.id, self.worker_id, utcnow())
        if self.observer:
            self.observer(d, None)

    def run_once(self) -> int:
        """Run due periodic jobs, then one batch of deliveries; returns how many were delivered."""
        mono = time.monotonic()
        for job in self.jobs:
            if mono - job.last >= job.interval:
                job.last = mono
                try:
                    job.run()
                except Exception:  # keep the worker alive; the job logs its own failure
                    logger.exception("periodic job %s failed", job.name)
        deliveries = claim(
            self.db,
            self.worker_id,
            utcnow(),
            limit=self.batch,
            lease=self.lease,
            targets=tuple(self.handlers) or None,
        )
        for d in deliveries:
            self.deliver(d)
        return len(deliveries)

    def run_forever(self) -> None:
        """Loop until ``stop()``; sleeps only when there was nothing to do."""
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                logger.exception("outbox worker loop failed; retrying shortly")
                busy = 0
            if not busy:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def wake(self) -> None:
        """New deliveries were committed in this process: stop sleeping now."""
        self._wake.set()

    def start(self) -> None:
        """Run in a daemon thread (``calhub serve`` on the embedded default)."""
        self._thread = threading.Thread(target=self.run_forever, name="calhub-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to finish its current delivery and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
