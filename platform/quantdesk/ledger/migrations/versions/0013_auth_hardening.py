"""Login throttling and session invalidation (issue 23).

`users.auth_epoch` counts password changes and disable/enable: a dashboard session signs the
value it logged in with, and ends when the ledger's differs. `login_failures` holds refused
logins per key (a registered user's name, a client address) and `login_lockouts` the keys
locked out, so throttling holds across server processes and the CLI.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantdesk.ledger._types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("auth_epoch", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "login_failures",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_kind_key_at", "login_failures", ["kind", "key", "at"])
    op.create_table(
        "login_lockouts",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("locked_at", UtcDateTime(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_login_lockouts"),
    )


def downgrade() -> None:
    op.drop_table("login_lockouts")
    op.drop_index("ix_login_failures_kind_key_at", table_name="login_failures")
    op.drop_table("login_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auth_epoch")
