"""Notification subscriptions: user x stored channel x event type x minimum level (issue 12).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_subscriptions",
        sa.Column("user", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("min_level", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_subscriptions")
