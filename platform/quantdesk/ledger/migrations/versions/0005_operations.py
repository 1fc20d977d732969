"""Operations: runner leases (one live runner per deployment), flow run records.

Reserved slot: filled in by the work on issue 10. Until then it changes nothing, so the
revision chain stays linear while several issues are built in parallel.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
