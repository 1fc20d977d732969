"""Identity: password hashes and disabled users (issue 11).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Nullable: SQLite can add a column to an existing table only when it may be NULL.
_USER_COLUMNS = [
    ("password_hash", sa.Text()),
    ("disabled", sa.Boolean()),
    ("updated_at", UtcDateTime()),
]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name, type_ in _USER_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name, _ in reversed(_USER_COLUMNS):
            batch.drop_column(name)
