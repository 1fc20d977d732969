"""Exchange API keys encrypted at rest (issue 11).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_keys",
        sa.Column("venue", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("api_key", sa.Text(), nullable=False),
        sa.Column("api_secret", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_keys")
