"""The desk's daily VaR/ES series (issue 25).

One row per scope (`desk`, `deployment:NAME`), forecast day and method: the VaR and ES the
monitor computed for the day with the positions it held, then the realised P&L of those
positions over the day, whether it was an exception and the traffic-light zone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import DecimalType, UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "var_series",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("confidence", DecimalType(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("var_quote", DecimalType(), nullable=False),
        sa.Column("es_quote", DecimalType(), nullable=False),
        sa.Column("gross_quote", DecimalType(), nullable=False),
        sa.Column("positions", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("pnl_quote", DecimalType(), nullable=True),
        sa.Column("exception", sa.Boolean(), nullable=True),
        sa.Column("zone", sa.String(8), nullable=True),
        sa.Column("evaluated_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("scope", "day", "method", name="uq_var_series_scope_day_method"),
    )


def downgrade() -> None:
    op.drop_table("var_series")
