"""Assemble the outbox worker with every handler and periodic job (one place to register them)."""

from __future__ import annotations

from hub.mail.inbound import imap_jobs
from hub.mail.outgoing import MailHandler
from hub.services import Services
from hub.sync.delivery import Handler
from hub.sync.worker import OutboxWorker, PeriodicJob


def build_handlers(services: Services) -> dict[str, Handler]:
    """Target kind → handler. Each later capability (webhooks, mail, integrations) adds its own."""
    return {"mail": MailHandler(services)}


def build_jobs(services: Services) -> list[PeriodicJob]:
    """Housekeeping the worker runs between batches."""
    jobs = [PeriodicJob("expire-holds", 5.0, services.booking.expire_holds)]
    if services.settings.smtp.host:
        jobs.append(PeriodicJob("mail-reminders", 30.0, services.booking.dispatch_due_reminders))
    jobs += imap_jobs(services)
    return jobs


def build_worker(services: Services) -> OutboxWorker:
    """The worker for ``calhub serve`` (thread) and ``calhub worker`` (process)."""
    return OutboxWorker(
        services.db,
        build_handlers(services),
        jobs=build_jobs(services),
        poll_seconds=services.settings.worker_poll_seconds,
    )
