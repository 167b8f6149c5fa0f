"""Assemble the outbox worker with every handler and periodic job (one place to register them)."""

from __future__ import annotations

from hub.services import Services
from hub.sync.delivery import Handler
from hub.sync.webhooks import WebhookSender
from hub.sync.worker import OutboxWorker, PeriodicJob


def build_handlers(services: Services) -> dict[str, Handler]:
    """Target kind → handler. Each later capability (webhooks, mail, integrations) adds its own."""
    return {
        "webhook": WebhookSender(
            services.db, services.secrets, on_gone=services.booking.deactivate_webhook
        ),
    }


def build_jobs(services: Services) -> list[PeriodicJob]:
    """Housekeeping the worker runs between batches."""
    return [
        PeriodicJob("expire-holds", 5.0, services.booking.expire_holds),
        PeriodicJob("purge-idempotency-keys", 3600.0, services.booking.purge_idempotency_keys),
    ]


def build_worker(services: Services) -> OutboxWorker:
    """The worker for ``calhub serve`` (thread) and ``calhub worker`` (process)."""
    return OutboxWorker(
        services.db,
        build_handlers(services),
        jobs=build_jobs(services),
        poll_seconds=services.settings.worker_poll_seconds,
    )
