"""The order intent: what a strategy, runner or operator wants to trade, before the risk gate.

Risk, ledger and brokers all speak it, so it lives in core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quantdesk.core.types import OrderType, Side

__all__ = ["OrderIntent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """One order someone wants placed; `client_order_id` is its idempotency key at the venue.

    `qty` is the unsigned base quantity; `price` is the limit price (None for market
    orders). `ts` is when the intent was made (UTC, from the injected clock).
    """

    client_order_id: str
    deployment: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    ts: datetime

    @property
    def signed_qty(self) -> Decimal:
        """Return `qty` with the side's sign (+ buy, - sell)."""
        return self.qty if self.side is Side.BUY else -self.qty
