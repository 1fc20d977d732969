"""Rows the ledger returns: frozen values with Decimal money and tz-aware UTC times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from quantdesk.core.types import OrderStatus, OrderType, Side, TradingState

__all__ = [
    "AuditEntry",
    "AuditVerification",
    "BalanceRecord",
    "FillRecord",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "PositionSnapshotRecord",
    "RiskEventRecord",
    "TradingStateRecord",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One order as the ledger knows it (its latest state; history is in `OrderEventRecord`s)."""

    id: int
    client_order_id: str
    venue: str
    account: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal | None
    status: OrderStatus
    venue_order_id: str | None
    filled_qty: Decimal
    avg_price: Decimal | None
    external: bool
    deployment: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def remaining_qty(self) -> Decimal:
        """Return the quantity not yet filled."""
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEventRecord:
    """One status transition of an order: from -> to, when, who said so, and what they said."""

    id: int
    order_id: int
    client_order_id: str
    ts: datetime
    from_status: OrderStatus | None
    to_status: OrderStatus
    source: str
    filled_qty: Decimal
    avg_price: Decimal | None
    venue_order_id: str | None
    payload: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    """One trade at the venue, unique per (venue, trade_id). `qty` is positive; `side` gives the sign."""

    id: int
    venue: str
    account: str
    trade_id: str
    order_id: int | None
    client_order_id: str | None
    venue_order_id: str | None
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    ts: datetime
    recorded_at: datetime

    @property
    def signed_qty(self) -> Decimal:
        """Return `qty` signed by side (+ buy, - sell)."""
        return self.qty if self.side is Side.BUY else -self.qty


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRecord:
    """A position computed from the unique fills: net base quantity and quote cash flow."""

    venue: str
    account: str
    symbol: str
    qty: Decimal
    cost: Decimal  # sum of signed qty * price: quote spent (+) or received (-)
    fees: Decimal
    fill_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionSnapshotRecord:
    """A position as a venue (or reconciliation) reported it at `ts`."""

    id: int
    venue: str
    account: str
    symbol: str
    qty: Decimal
    source: str
    ts: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceRecord:
    """One asset's balance as a venue reported it at `ts`."""

    id: int
    venue: str
    account: str
    asset: str
    free: Decimal | None
    used: Decimal | None
    total: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskEventRecord:
    """A risk decision worth keeping (every denial; approvals if the caller wants them)."""

    id: int
    ts: datetime
    approved: bool
    code: str
    detail: str
    deployment: str | None
    venue: str | None
    symbol: str | None
    intent: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingStateRecord:
    """The trading state of one scope (e.g. `global`, `deployment:NAME`, `symbol:BTC/USDT`)."""

    scope: str
    state: TradingState
    reason: str
    actor: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One entry of the append-only, hash-chained audit log."""

    seq: int
    ts: datetime
    actor: str
    action: str
    payload: dict[str, object]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerification:
    """The result of checking the audit chain: `ok`, or the first bad seq and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PretradeView:
    """What the gated broker reads before checking one intent, from one read transaction.

    `order`: the order already stored under `client_order_id` (None: a new one); `positions`:
    net quantity per symbol of the (venue, account); `active_orders`: open plus in-flight
    orders per symbol on the venue; `fills`: the live runner's book update, read alongside.
    """

    client_order_id: str
    order: OrderRecord | None
    positions: dict[str, Decimal] = field(default_factory=dict)
    active_orders: dict[str, int] = field(default_factory=dict)
    fills: list[FillRecord] | None = None  # the deployment's fills after an id, when asked for
