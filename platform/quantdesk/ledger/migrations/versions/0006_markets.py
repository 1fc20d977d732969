"""Markets: futures positions, funding and leverage columns.

Reserved slot: filled in by the work on issue 13. Until then it changes nothing, so the
revision chain stays linear while several issues are built in parallel.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
