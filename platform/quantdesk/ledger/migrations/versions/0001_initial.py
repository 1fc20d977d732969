"""Initial ledger: venues, accounts, deployments, orders and their events, fills, snapshots,
risk events, trading states and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import DecimalType, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
]
_PG_TRIGGERS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "venues",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_venues"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.ForeignKeyConstraint(["venue"], ["venues.name"], name="fk_accounts_venue_venues"),
        sa.UniqueConstraint("venue", "name", name="uq_accounts_venue_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(256), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
    )
    op.create_table(
        "orders",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("qty", DecimalType(), nullable=False),
        sa.Column("price", DecimalType(), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("filled_qty", DecimalType(), nullable=False),
        sa.Column("avg_price", DecimalType(), nullable=True),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("client_order_id", name="uq_orders_client_order_id"),
        sa.ForeignKeyConstraint(
            ["venue", "account"],
            ["accounts.venue", "accounts.name"],
            name="fk_orders_venue_account_accounts",
        ),
    )
    op.create_index("ix_orders_venue_venue_order_id", "orders", ["venue", "venue_order_id"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_symbol", "orders", ["symbol"])
    op.create_table(
        "order_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("filled_qty", DecimalType(), nullable=False),
        sa.Column("avg_price", DecimalType(), nullable=True),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_order_events_order_id_orders"
        ),
    )
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])
    op.create_table(
        "fills",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.String(128), nullable=False),
        sa.Column("order_id", Id, nullable=True),
        sa.Column("client_order_id", sa.String(64), nullable=True),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("qty", DecimalType(), nullable=False),
        sa.Column("price", DecimalType(), nullable=False),
        sa.Column("fee", DecimalType(), nullable=False),
        sa.Column("fee_currency", sa.String(32), nullable=True),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fills"),
        sa.UniqueConstraint("venue", "trade_id", name="uq_fills_venue_trade_id"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_fills_order_id_orders"),
        sa.ForeignKeyConstraint(
            ["venue", "account"],
            ["accounts.venue", "accounts.name"],
            name="fk_fills_venue_account_accounts",
        ),
    )
    op.create_index("ix_fills_order_id", "fills", ["order_id"])
    op.create_index("ix_fills_symbol_ts", "fills", ["symbol", "ts"])
    op.create_table(
        "position_snapshots",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("qty", DecimalType(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_position_snapshots"),
    )
    op.create_index(
        "ix_position_snapshots_venue_account_symbol_ts",
        "position_snapshots",
        ["venue", "account", "symbol", "ts"],
    )
    op.create_table(
        "balance_snapshots",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("free", DecimalType(), nullable=True),
        sa.Column("used", DecimalType(), nullable=True),
        sa.Column("total", DecimalType(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_balance_snapshots"),
    )
    op.create_index(
        "ix_balance_snapshots_venue_account_asset_ts",
        "balance_snapshots",
        ["venue", "account", "asset", "ts"],
    )
    op.create_table(
        "risk_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=True),
        sa.Column("venue", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("intent", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_events"),
    )
    op.create_index("ix_risk_events_code", "risk_events", ["code"])
    op.create_table(
        "trading_states",
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_trading_states"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, autoincrement=False, nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "audit_log",
        "trading_states",
        "risk_events",
        "balance_snapshots",
        "position_snapshots",
        "fills",
        "order_events",
        "orders",
        "deployments",
        "accounts",
        "venues",
    ):
        op.drop_table(table)
