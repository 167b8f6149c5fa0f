"""Alembic environment: uses the engine calhub hands over, or the URL in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run migrations online against calhub's engine."""
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url")
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
