"""Arbitrage opportunities (issue 28): one row per episode, from first seen to gone.

An episode opens when a scan first finds an opportunity (its `arb_opportunity` message is
enqueued in the same transaction) and closes when a scan of its scope no longer finds it.
`open_key` holds the key while open and NULL after, so at most one episode per key is open.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import DecimalType, UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arb_opportunities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("open_key", sa.String(512), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("legs", sa.Text(), nullable=False),
        sa.Column("size", DecimalType(), nullable=False),
        sa.Column("size_unit", sa.String(8), nullable=False),
        sa.Column("size_currency", sa.String(32), nullable=False),
        sa.Column("edge_bps", DecimalType(), nullable=False),
        sa.Column("best_edge_bps", DecimalType(), nullable=False),
        sa.Column("last_edge_bps", DecimalType(), nullable=False),
        sa.Column("profit_quote", DecimalType(), nullable=False),
        sa.Column("quote_currency", sa.String(32), nullable=False),
        sa.Column("book_age_ms", sa.Integer(), nullable=False),
        sa.Column("book_ages", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.UniqueConstraint("open_key", name="uq_arb_opportunities_open_key"),
    )
    op.create_index("ix_arb_opportunities_scope", "arb_opportunities", ["scope"])
    op.create_index("ix_arb_opportunities_detected_at", "arb_opportunities", ["detected_at"])


def downgrade() -> None:
    op.drop_table("arb_opportunities")
