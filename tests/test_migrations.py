"""The Alembic migrations build exactly the schema the models describe, on either database."""

from __future__ import annotations

from alembic import command

from hub.services import Services
from hub.store.migrate import alembic_config


def test_models_and_migrations_agree(services: Services) -> None:
    # `services` has run every migration; autogenerate must find nothing left to do.
    command.check(alembic_config(services.db.write_engine))
