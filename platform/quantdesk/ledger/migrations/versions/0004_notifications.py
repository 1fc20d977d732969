"""Notifications: durable outbox, delivery history, channels (encrypted secrets), subscriptions.

Reserved slot: filled in by the work on issue 12. Until then it changes nothing, so the
revision chain stays linear while several issues are built in parallel.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
