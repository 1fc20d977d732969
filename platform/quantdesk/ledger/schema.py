"""Table definitions (SQLAlchemy Core). The migrations in `migrations/versions` create them.

Keep this file and the migrations in step: `tests/ledger/test_migrations.py` compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from quantdesk.ledger._types import DecimalType, UtcDateTime

__all__ = [
    "accounts",
    "arb_opportunities",
    "api_idempotency",
    "api_tokens",
    "audit_log",
    "balance_snapshots",
    "deployments",
    "fills",
    "metadata",
    "order_events",
    "orders",
    "position_snapshots",
    "promotions",
    "risk_events",
    "trading_states",
    "login_failures",
    "login_lockouts",
    "users",
    "venues",
]

# Named constraints so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL; INTEGER on SQLite so the key aliases rowid and autoincrements.
Id = BigInteger().with_variant(Integer(), "sqlite")

venues = Table(
    "venues",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venue", String(64), ForeignKey("venues.name"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("venue", "name"),
)

# Created by 0001; migration 0002 (the promotion registry) adds every column after created_at.
# The added columns are nullable because SQLite adds columns to an existing table only so.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("strategy", String(256), nullable=True),
    Column("stage", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("strategy_ref", Text(), nullable=True),
    Column("params", Text(), nullable=True),
    Column("symbols", Text(), nullable=True),
    Column("timeframe", String(16), nullable=True),
    Column("exchange", String(64), nullable=True),
    Column("venue", String(64), nullable=True),
    Column("account", String(64), nullable=True),
    Column("risk", Text(), nullable=True),
    Column("capital", DecimalType(), nullable=True),
    Column("settings", Text(), nullable=True),
    Column("code_hash", String(64), nullable=True),
    Column("run_id", String(128), nullable=True),
    Column("walkforward_run_id", String(128), nullable=True),
    Column("state", String(16), nullable=True),
    Column("state_detail", Text(), nullable=True),
    Column("created_by", String(128), nullable=True),
    Column("approved_by", String(128), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("stage_since", UtcDateTime(), nullable=True),
    Column("first_bar_ts", UtcDateTime(), nullable=True),
    Column("last_bar_ts", UtcDateTime(), nullable=True),
    Column("pnl", DecimalType(), nullable=True),
)

# Promotion requests (0002): evidence, gate results and the decision (approval or refusal).
promotions = Table(
    "promotions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment", String(128), nullable=False, index=True),
    Column("from_stage", String(16), nullable=True),
    Column("to_stage", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("code_hash", String(64), nullable=True),
    Column("run_id", String(128), nullable=True),
    Column("evidence", Text(), nullable=False),
    Column("gates", Text(), nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("reason", Text(), nullable=True),
)

# Users and their roles (0002): admin, trader, researcher, viewer.
users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # 0003: an argon2 hash (never the password); NULL until a password is set.
    Column("password_hash", Text(), nullable=True),
    Column("disabled", Boolean(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=True),
    # 0013: bumped whenever the password changes or the user is disabled or re-enabled; a dashboard
    # session carries the value it logged in with, so a changed one ends that session.
    Column("auth_epoch", Integer(), nullable=False, server_default="0"),
)

# Exchange API keys at rest (0007): Fernet tokens under the installation's master key, never plain text.
exchange_keys = Table(
    "exchange_keys",
    metadata,
    Column("venue", String(64), primary_key=True),
    Column("account", String(64), primary_key=True),
    Column("api_key", Text(), nullable=False),  # Fernet token
    Column("api_secret", Text(), nullable=False),  # Fernet token
    Column("key_fingerprint", String(16), nullable=False),  # of the API key: tells keys apart, reveals nothing
    Column("set_by", String(128), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_order_id", String(64), nullable=False, unique=True),
    Column("venue", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("qty", DecimalType(), nullable=False),
    Column("price", DecimalType(), nullable=True),
    Column("status", String(24), nullable=False),
    Column("venue_order_id", String(128), nullable=True),
    Column("filled_qty", DecimalType(), nullable=False),
    Column("avg_price", DecimalType(), nullable=True),
    Column("external", Boolean(), nullable=False),
    Column("deployment", String(128), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["venue", "account"], ["accounts.venue", "accounts.name"]),
    Index(None, "venue", "venue_order_id"),
    Index(None, "status"),
    Index(None, "symbol"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("source", String(32), nullable=False),
    Column("filled_qty", DecimalType(), nullable=False),
    Column("avg_price", DecimalType(), nullable=True),
    Column("venue_order_id", String(128), nullable=True),
    Column("payload", Text(), nullable=False),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venue", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("trade_id", String(128), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=True, index=True),
    Column("client_order_id", String(64), nullable=True),
    Column("venue_order_id", String(128), nullable=True),
    Column("symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("qty", DecimalType(), nullable=False),
    Column("price", DecimalType(), nullable=False),
    Column("fee", DecimalType(), nullable=False),
    Column("fee_currency", String(32), nullable=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    UniqueConstraint("venue", "trade_id"),
    ForeignKeyConstraint(["venue", "account"], ["accounts.venue", "accounts.name"]),
    Index(None, "symbol", "ts"),
    Index(None, "client_order_id"),  # 0012: an order's fills (each decision books them) without a scan
)

position_snapshots = Table(
    "position_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venue", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("qty", DecimalType(), nullable=False),
    Column("source", String(32), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Index(None, "venue", "account", "symbol", "ts"),
)

balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venue", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("free", DecimalType(), nullable=True),
    Column("used", DecimalType(), nullable=True),
    Column("total", DecimalType(), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Index(None, "venue", "account", "asset", "ts"),
)

risk_events = Table(
    "risk_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("approved", Boolean(), nullable=False),
    Column("code", String(64), nullable=False, index=True),
    Column("detail", Text(), nullable=False),
    Column("deployment", String(128), nullable=True),
    Column("venue", String(64), nullable=True),
    Column("symbol", String(64), nullable=True),
    Column("intent", Text(), nullable=False),
)

# Notification channels (0009): apprise URLs hold bot tokens and passwords, so they are stored
# as Fernet tokens like exchange keys; `scheme` and a fingerprint are what may be shown.
notification_channels = Table(
    "notification_channels",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("url", Text(), nullable=False),  # Fernet token of the apprise URL
    Column("scheme", String(32), nullable=False),
    Column("url_fingerprint", String(16), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Who wants which events on which stored channel (0010); a channel nobody subscribed to gets every event.
notification_subscriptions = Table(
    "notification_subscriptions",
    metadata,
    Column("user", String(128), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("event_type", String(64), primary_key=True),  # an event type, or "*" for all
    Column("min_level", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# The notification outbox (0008): written in the transaction of the event it reports, delivered
# later by a sender off the trading path; each row is also the message's delivery history.
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("event_type", String(64), nullable=False, index=True),
    Column("level", String(16), nullable=False),
    Column("payload", Text(), nullable=False),  # canonical JSON of the event (never a secret)
    Column("status", String(16), nullable=False, index=True),  # pending, sent, digested, failed, skipped
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("digest_id", BigInteger(), nullable=True),  # the row whose digest message carried this one
)

trading_states = Table(
    "trading_states",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Append-only: seq is assigned as last seq + 1 under a write lock, never by the database,
# so a gap always means a deletion. Triggers refuse UPDATE and DELETE.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(128), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

# Runner leases (0011): one runner per deployment; a dead runner's lease expires (wall clock).
runner_leases = Table(
    "runner_leases",
    metadata,
    Column("deployment", String(128), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("renewed_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# -- issue 28: arbitrage opportunities (0015) --------------------------------------------------
# One row per episode: an opportunity from the scan that first saw it until the scan that no
# longer did. `open_key` is the key while the episode is open and NULL once closed, so the
# unique constraint allows one open episode per key (NULLs never collide) on both backends.
arb_opportunities = Table(
    "arb_opportunities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False),
    Column("open_key", String(512), nullable=True, unique=True),
    Column("kind", String(16), nullable=False),
    Column("scope", String(256), nullable=False, index=True),
    Column("summary", Text(), nullable=False),
    Column("detected_at", UtcDateTime(), nullable=False, index=True),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("legs", Text(), nullable=False),  # JSON: venue, symbol, side, qty, avg_price, fee, ...
    Column("size", DecimalType(), nullable=False),
    Column("size_unit", String(8), nullable=False),
    Column("size_currency", String(32), nullable=False),
    Column("edge_bps", DecimalType(), nullable=False),  # when first seen
    Column("best_edge_bps", DecimalType(), nullable=False),
    Column("last_edge_bps", DecimalType(), nullable=False),
    Column("profit_quote", DecimalType(), nullable=False),
    Column("quote_currency", String(32), nullable=False),
    Column("book_age_ms", Integer(), nullable=False),  # the oldest book it was priced on
    Column("book_ages", Text(), nullable=False),  # JSON: "venue symbol" -> ms
    Column("details", Text(), nullable=False),  # JSON: transfer cost and its source, conversions
    Column("observations", Integer(), nullable=False),
)

# The daily VaR/ES series (0014, issue 25): one row per scope (`desk`, `deployment:NAME`), forecast
# day and method, written by the monitor; the realised P&L of the stored positions over that day,
# whether it was an exception and the traffic-light zone are filled in once the day has closed.
var_series = Table(
    "var_series",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope", String(160), nullable=False),
    Column("day", String(10), nullable=False),  # the UTC day whose loss the VaR bounds (YYYY-MM-DD)
    Column("as_of", String(10), nullable=False),  # the last day of the return window
    Column("method", String(32), nullable=False),
    Column("confidence", DecimalType(), nullable=False),
    Column("window_days", Integer(), nullable=False),
    Column("observations", Integer(), nullable=False),
    Column("var_quote", DecimalType(), nullable=False),
    Column("es_quote", DecimalType(), nullable=False),
    Column("gross_quote", DecimalType(), nullable=False),
    Column("positions", Text(), nullable=False),  # canonical JSON: venue, exchange, symbol, qty, price
    Column("created_at", UtcDateTime(), nullable=False),
    Column("pnl_quote", DecimalType(), nullable=True),
    Column("exception", Boolean(), nullable=True),
    Column("zone", String(8), nullable=True),
    Column("evaluated_at", UtcDateTime(), nullable=True),
    UniqueConstraint("scope", "day", "method"),
)

# -- issue 29: API tokens and idempotency keys (0016) --------------------------------------------
# A token is shown once; the ledger keeps its SHA-256 (tokens are 256 random bits: a slow hash adds
# nothing) and its prefix ("qdt_" + 8 characters), which is what lists, audits and revokes name.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("prefix", String(32), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user", String(128), nullable=False, index=True),
    Column("scope", String(16), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("revoked_by", String(128), nullable=True),
)

# One row per (user, Idempotency-Key) of an acting API request: the request's digest, written
# before the action runs, and the answer once it is known (replayed to a retry).
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("user", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("status_code", Integer(), nullable=True),  # None: running, or its server died before answering
    Column("body", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
    Column("answered_at", UtcDateTime(), nullable=True),
)

# -- issue 23: login throttling (0013) ------------------------------------------------------------
# One row per refused login, per key it counts against: a registered user's name ("user"), the
# client's address ("address"). An unregistered name counts as the one key "unknown user", so what
# somebody typed (perhaps a password) is never stored. Old rows are pruned as new ones come.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(128), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_login_failures_kind_key_at", "kind", "key", "at"),
)

# The key locked until `until`: a login for it is refused even with the right password.
login_lockouts = Table(
    "login_lockouts",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("locked_at", UtcDateTime(), nullable=False),
    Column("until", UtcDateTime(), nullable=False),
)
