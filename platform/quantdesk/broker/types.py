"""What every broker returns (frozen values with Decimal money) and the `Broker` protocol.

A broker (paper or ccxt) speaks to one account at one venue. It is never used
directly by strategies or the CLI: `GatedBroker` wraps it (DESIGN.md, contract 5).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus, OrderType, Side

__all__ = [
    "Balance",
    "Broker",
    "BrokerFill",
    "FuturesPosition",
    "BrokerOrder",
    "client_order_id_for",
    "derive_client_order_id",
    "is_valid_client_order_id",
]

# Binance's newClientOrderId: at most 36 chars of `[.A-Z:/a-z0-9_-]`; most venues accept a subset.
_CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_CLIENT_ID_PREFIX = "qd-"


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerOrder:
    """An order as the venue (or the paper broker) knows it."""

    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal | None
    status: OrderStatus
    filled_qty: Decimal = Decimal(0)
    average_price: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerFill:
    """One execution (a venue trade) of an order; unique by `trade_id` per venue."""

    trade_id: str
    client_order_id: str | None
    venue_order_id: str | None
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    ts: datetime

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """One asset's balance: `free` can be traded, `used` is locked in open orders."""

    asset: str
    free: Decimal
    used: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True, slots=True, kw_only=True)
class FuturesPosition:
    """A perpetual's account setting and position as the venue reports them (for the risk gate).

    `entry_price` is None when flat; `mark_price` None when the venue did not say.
    """

    symbol: str
    leverage: Decimal
    qty: Decimal  # signed: > 0 long
    entry_price: Decimal | None
    mark_price: Decimal | None


@runtime_checkable
class Broker(Protocol):
    """The interface shared by `PaperBroker` and `CcxtBroker`.

    `create_order` derives the client order id from the intent (`client_order_id_for`),
    so sending the same intent twice can never create two orders.
    """

    name: str

    def create_order(self, intent: OrderIntent) -> BrokerOrder:
        """Send the order for `intent`; return the venue's answer."""
        ...

    def fetch_order(self, client_order_id: str, symbol: str) -> BrokerOrder:
        """Look an order up by client order id; raise `OrderNotFoundError` when the venue has none."""
        ...

    def cancel_order(self, client_order_id: str, symbol: str) -> BrokerOrder:
        """Cancel an open order; return it in its final state."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[BrokerOrder]:
        """Return the orders still open at the venue."""
        ...

    def fills_since(self, since: datetime | None, symbol: str | None = None) -> list[BrokerFill]:
        """Return the account's fills at or after `since` (all known fills when None), oldest first."""
        ...

    def balances(self) -> dict[str, Balance]:
        """Return non-zero balances by asset."""
        ...


def client_order_id_for(intent: OrderIntent) -> str:
    """Derive the venue client order id from an intent: the same intent always gives the same id.

    Uses the intent's own `client_order_id` when it already carries a valid one; otherwise
    hashes deployment and intent id into `qd-` + 32 hex chars (35 chars, Binance-safe).
    """
    given = getattr(intent, "client_order_id", None)
    if given:
        if not is_valid_client_order_id(given):
            raise ValueError(
                f"client order id {given!r} is not valid: use 1-36 chars of letters, digits, . : / _ -"
            )
        return str(given)
    intent_id = getattr(intent, "intent_id", None) or getattr(intent, "id", None)
    if not intent_id:
        raise ValueError("an order intent needs a client order id (see derive_client_order_id)")
    return derive_client_order_id(str(getattr(intent, "deployment", "") or ""), str(intent_id))


def derive_client_order_id(deployment: str, key: str) -> str:
    """Return `qd-` + 32 hex chars hashed from deployment and an intent key (35 chars, Binance-safe).

    The same (deployment, key) always gives the same id, so a retried intent reuses it.
    """
    digest = hashlib.sha256(f"{deployment}\x1f{key}".encode()).hexdigest()[:32]
    return _CLIENT_ID_PREFIX + digest


def is_valid_client_order_id(value: str) -> bool:
    """Return whether `value` is an acceptable client order id (Binance's rule, the strictest common one)."""
    return bool(_CLIENT_ID_RE.match(value))
