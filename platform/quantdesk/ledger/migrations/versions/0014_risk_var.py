"""The desk's daily VaR/ES series (issue 25).

Reserved revision: the work of issue 25 fills in upgrade() and downgrade(). Until it
does, this revision changes nothing, so the chain 0013 -> 0016 can land in any order.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
