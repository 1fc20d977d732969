"""Login throttling and session invalidation (issue 23).

Reserved revision: the work of issue 23 fills in upgrade() and downgrade(). Until it
does, this revision changes nothing, so the chain 0013 -> 0016 can land in any order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
