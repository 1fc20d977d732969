"""Fills are append-only, and an order's fills are found by index.

A fill is a trade the venue made; the ledger never edits or forgets one. The database now
refuses UPDATE and DELETE on fills, as on the audit log. Making that a rule of the database
(not only of the code) lets positions be carried forward from the last fill id seen, instead
of re-counting every fill before each order (that pre-trade read grew with history).
An index on `fills.client_order_id`: the runner books an order's fills after each decision,
which was a scan of every fill.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SQLITE = [
    "CREATE TRIGGER fills_no_update BEFORE UPDATE ON fills "
    "BEGIN SELECT RAISE(ABORT, 'fills are append-only: UPDATE refused'); END",
    "CREATE TRIGGER fills_no_delete BEFORE DELETE ON fills "
    "BEGIN SELECT RAISE(ABORT, 'fills are append-only: DELETE refused'); END",
]
_PG = [
    "CREATE FUNCTION fills_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'fills are append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER fills_no_update BEFORE UPDATE OR DELETE ON fills "
    "FOR EACH ROW EXECUTE FUNCTION fills_append_only()",
    "CREATE TRIGGER fills_no_truncate BEFORE TRUNCATE ON fills "
    "FOR EACH STATEMENT EXECUTE FUNCTION fills_append_only()",
]


def upgrade() -> None:
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS fills_no_truncate ON fills")
        op.execute("DROP TRIGGER IF EXISTS fills_no_update ON fills")
        op.execute("DROP FUNCTION IF EXISTS fills_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS fills_no_delete")
        op.execute("DROP TRIGGER IF EXISTS fills_no_update")
    op.drop_index("ix_fills_client_order_id", table_name="fills")
