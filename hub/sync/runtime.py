"""Assemble the outbox worker with every handler and periodic job (one place to register them)."""

from __future__ import annotations

import time

from hub.mail.inbound import imap_jobs
from hub.mail.outgoing import MailHandler
from hub.services import Services
from hub.sync.delivery import Handler
from hub.sync.engine import SyncEngine
from hub.sync.retry import RetryPolicy
from hub.sync.webhooks import WebhookSender
from hub.sync.worker import OutboxWorker, PeriodicJob


def build_handlers(services: Services, engine: SyncEngine) -> dict[str, Handler]:
    """Target kind → handler. Each capability (webhooks, mail, integrations) adds its own."""
    return {
        "integration": engine.handle,
        "webhook": WebhookSender(
            services.db, services.secrets, on_gone=services.booking.deactivate_webhook
        ),
        "mail": MailHandler(services),
    }


def build_jobs(services: Services, engine: SyncEngine) -> list[PeriodicJob]:
    """Housekeeping the worker runs between batches."""
    settings = services.settings
    jobs = [
        PeriodicJob("expire-holds", 5.0, services.booking.expire_holds),
        PeriodicJob("purge-idempotency-keys", 3600.0, services.booking.purge_idempotency_keys),
        PeriodicJob("sync-poll", settings.sync_poll_seconds, engine.poll_all),
        # The first full reconciliation runs one interval after start, not at start-up.
        PeriodicJob(
            "sync-reconcile",
            float(settings.reconcile_interval_seconds),
            engine.reconcile_all,
            last=time.monotonic(),
        ),
    ]
    if settings.smtp.host:
        jobs.append(PeriodicJob("mail-reminders", 30.0, services.booking.dispatch_due_reminders))
    jobs += imap_jobs(services)
    return jobs


def build_policy(services: Services) -> RetryPolicy:
    """The retry policy from settings."""
    s = services.settings
    return RetryPolicy(
        base_seconds=s.retry_base_seconds,
        max_seconds=s.retry_max_seconds,
        max_attempts=s.retry_max_attempts,
    )


def build_worker(services: Services) -> OutboxWorker:
    """The worker for ``calhub serve`` (thread) and ``calhub worker`` (process)."""
    engine = SyncEngine(services)
    worker = OutboxWorker(
        services.db,
        build_handlers(services, engine),
        jobs=build_jobs(services, engine),
        policy=build_policy(services),
        poll_seconds=services.settings.worker_poll_seconds,
        lease_seconds=services.settings.worker_lease_seconds,
    )
    # In-process commands wake the worker at once; other processes' commits are polled.
    services.booking.uow.after_commit.append(worker.wake)
    return worker
