"""Identity: password hashes, disabled users, login attempts, sessions, encrypted exchange keys.

Reserved slot: filled in by the work on issue 11. Until then it changes nothing, so the
revision chain stays linear while several issues are built in parallel.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
