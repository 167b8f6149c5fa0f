"""Seed the change-log counter row, so the first commands never race to create it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "change_log", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'change_log'")
