"""The services container: built once per process (CLI or WSGI) and passed in by constructor."""

from __future__ import annotations

from dataclasses import dataclass

from hub.booking.queries import Queries
from hub.booking.service import BookingService
from hub.booking.unit import UnitOfWorkFactory
from hub.config import Settings, ensure_secret_key
from hub.crypto import SecretBox
from hub.mail.targets import without_mail
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.sync.fanout import fanout


@dataclass
class Services:
    """Everything a front end needs; no module-level singletons anywhere."""

    settings: Settings
    db: Database
    booking: BookingService
    queries: Queries
    secrets: SecretBox

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Connect to the database (migrating it first when asked) and wire the services."""
    if settings.is_embedded:
        settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url())
    if migrate:
        upgrade(db.write_engine)
    box = SecretBox(ensure_secret_key(settings))
    # No SMTP server configured: owe no mail (nothing would ever deliver it).
    uow = UnitOfWorkFactory(db, fanout if settings.smtp.host else without_mail(fanout))
    booking = BookingService(db, uow)
    booking.secret_box = box  # integration credentials are sealed with the configured key
    return Services(
        settings=settings,
        db=db,
        booking=booking,
        queries=Queries(db),
        secrets=box,
    )
