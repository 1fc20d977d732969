"""Promotion registry: deployment details and runtime state, promotion requests, users and roles.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import DecimalType, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Nullable: SQLite can add a column to an existing table only when it may be NULL.
_DEPLOYMENT_COLUMNS = [
    ("strategy_ref", sa.Text()),
    ("params", sa.Text()),
    ("symbols", sa.Text()),
    ("timeframe", sa.String(16)),
    ("exchange", sa.String(64)),
    ("venue", sa.String(64)),
    ("account", sa.String(64)),
    ("risk", sa.Text()),
    ("capital", DecimalType()),
    ("settings", sa.Text()),
    ("code_hash", sa.String(64)),
    ("run_id", sa.String(128)),
    ("walkforward_run_id", sa.String(128)),
    ("state", sa.String(16)),
    ("state_detail", sa.Text()),
    ("created_by", sa.String(128)),
    ("approved_by", sa.String(128)),
    ("updated_at", UtcDateTime()),
    ("stage_since", UtcDateTime()),
    ("first_bar_ts", UtcDateTime()),
    ("last_bar_ts", UtcDateTime()),
    ("pnl", DecimalType()),
]


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        for name, type_ in _DEPLOYMENT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "promotions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=True),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("gates", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
    )
    op.create_index("ix_promotions_deployment", "promotions", ["deployment"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_promotions_deployment", table_name="promotions")
    op.drop_table("promotions")
    with op.batch_alter_table("deployments") as batch:
        for name, _ in reversed(_DEPLOYMENT_COLUMNS):
            batch.drop_column(name)
