"""Order state machine and row -> record conversions."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, TypeVar

from quantdesk.core.errors import LedgerError
from quantdesk.core.types import OrderStatus, OrderType, Side, TradingState
from quantdesk.ledger.records import (
    BalanceRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    PositionSnapshotRecord,
    RiskEventRecord,
    TradingStateRecord,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "check_transition",
    "parse_enum",
    "to_balance",
    "to_event",
    "to_fill",
    "to_order",
    "to_position_snapshot",
    "to_risk_event",
    "to_trading_state",
]

E = TypeVar("E", bound=Enum)
S = OrderStatus
_WORKING = {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
# Orders only move forward. A venue may answer an unsent (PENDING) order's lookup with any
# state, e.g. after a crash between send and record; REJECTED needs no acknowledgement.
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.PENDING, S.SENT, S.REJECTED, *_WORKING}),
    S.SENT: frozenset({S.SENT, S.REJECTED, *_WORKING}),
    S.OPEN: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    # A final state may only be repeated (e.g. a corrected filled qty), never left.
    S.FILLED: frozenset({S.FILLED}),
    S.CANCELED: frozenset({S.CANCELED}),
    S.REJECTED: frozenset({S.REJECTED}),
    S.EXPIRED: frozenset({S.EXPIRED}),
}


def check_transition(client_order_id: str, current: OrderStatus, new: OrderStatus) -> None:
    """Raise LedgerError unless an order may move from `current` to `new`."""
    if new not in ALLOWED_TRANSITIONS[current]:
        allowed = (
            ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current] if s is not current))
            or "none"
        )
        raise LedgerError(
            f"order {client_order_id!r} cannot move from {current.value} to {new.value} "
            f"(allowed from {current.value}: {allowed}); look the order up at the venue and reconcile"
        )


def parse_enum(enum: type[E], value: Any, what: str) -> E:
    """Return `value` as a member of `enum`, or raise LedgerError listing the valid values."""
    try:
        return enum(value)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)
        raise LedgerError(f"invalid {what} {value!r}: use one of {valid}") from None


def to_order(row: Any) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        client_order_id=row.client_order_id,
        venue=row.venue,
        account=row.account,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        qty=row.qty,
        price=row.price,
        status=OrderStatus(row.status),
        venue_order_id=row.venue_order_id,
        filled_qty=row.filled_qty,
        avg_price=row.avg_price,
        external=bool(row.external),
        deployment=row.deployment,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_event(row: Any, client_order_id: str) -> OrderEventRecord:
    return OrderEventRecord(
        id=row.id,
        order_id=row.order_id,
        client_order_id=client_order_id,
        ts=row.ts,
        from_status=None if row.from_status is None else OrderStatus(row.from_status),
        to_status=OrderStatus(row.to_status),
        source=row.source,
        filled_qty=row.filled_qty,
        avg_price=row.avg_price,
        venue_order_id=row.venue_order_id,
        payload=json.loads(row.payload),
    )


def to_fill(row: Any) -> FillRecord:
    return FillRecord(
        id=row.id,
        venue=row.venue,
        account=row.account,
        trade_id=row.trade_id,
        order_id=row.order_id,
        client_order_id=row.client_order_id,
        venue_order_id=row.venue_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.qty,
        price=row.price,
        fee=row.fee,
        fee_currency=row.fee_currency,
        ts=row.ts,
        recorded_at=row.recorded_at,
    )


def to_position_snapshot(row: Any) -> PositionSnapshotRecord:
    return PositionSnapshotRecord(
        id=row.id,
        venue=row.venue,
        account=row.account,
        symbol=row.symbol,
        qty=row.qty,
        source=row.source,
        ts=row.ts,
    )


def to_balance(row: Any) -> BalanceRecord:
    return BalanceRecord(
        id=row.id,
        venue=row.venue,
        account=row.account,
        asset=row.asset,
        free=row.free,
        used=row.used,
        total=row.total,
        ts=row.ts,
    )


def to_risk_event(row: Any) -> RiskEventRecord:
    return RiskEventRecord(
        id=row.id,
        ts=row.ts,
        approved=bool(row.approved),
        code=row.code,
        detail=row.detail,
        deployment=row.deployment,
        venue=row.venue,
        symbol=row.symbol,
        intent=json.loads(row.intent),
    )


def to_trading_state(row: Any) -> TradingStateRecord:
    return TradingStateRecord(
        scope=row.scope,
        state=TradingState(row.state),
        reason=row.reason,
        actor=row.actor,
        updated_at=row.updated_at,
    )
