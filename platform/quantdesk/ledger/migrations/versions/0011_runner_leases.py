"""Runner leases: at most one runner per deployment at any moment (issue 10).

A runner takes its deployment's lease before it starts and renews it while it runs; a
runner that dies (SIGKILL, a lost machine) stops renewing, so its lease expires and the
restarted run takes it over. Times are wall-clock UTC, never a scaled market clock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runner_leases",
        sa.Column("deployment", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("renewed_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("runner_leases")
