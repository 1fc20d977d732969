"""API tokens and idempotency keys (issue 29).

Reserved revision: the work of issue 29 fills in upgrade() and downgrade(). Until it
does, this revision changes nothing, so the chain 0013 -> 0016 can land in any order.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
