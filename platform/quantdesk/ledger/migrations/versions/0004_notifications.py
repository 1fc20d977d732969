"""Notifications: durable outbox, delivery history, channels (encrypted secrets), subscriptions.

Released empty (a reserved slot). A released revision never changes what it does, so
installations already at 0004-0006 are not skipped: the outbox arrived as revision 0008.

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
