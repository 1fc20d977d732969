"""Arbitrage opportunities (issue 28).

Reserved revision: the work of issue 28 fills in upgrade() and downgrade(). Until it
does, this revision changes nothing, so the chain 0013 -> 0016 can land in any order.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
