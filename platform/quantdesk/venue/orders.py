"""Order, trade and rejection values of the simulated venue (Binance spot vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = ["FillPolicy", "OrderState", "RejectedRequest", "SimOrder", "SimTrade"]

ZERO = Decimal(0)


class OrderState(StrEnum):
    """Binance order statuses."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderState.NEW, OrderState.PARTIALLY_FILLED)


class RejectedRequest(Exception):  # noqa: N818 - it is the venue's answer, not our failure
    """A request the venue answers with a Binance error body `{"code": code, "msg": msg}`."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class FillPolicy:
    """How resting limit orders fill; market orders always fill in full at the current price.

    Per closed bar a limit order fills at most `fraction_per_bar` of its original quantity
    and at most `max_volume_fraction` of the bar's volume (None: no volume cap). Fees are
    `fee_bps` of the notional, charged in the quote asset (a simplification: real Binance
    charges the received asset), so positions equal the sum of filled quantities.
    """

    fraction_per_bar: float = 1.0
    max_volume_fraction: float | None = None
    fee_bps: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.fraction_per_bar <= 1:
            raise ValueError(f"fraction_per_bar must be in (0, 1], got {self.fraction_per_bar}")
        if self.max_volume_fraction is not None and not 0 < self.max_volume_fraction <= 1:
            raise ValueError(
                f"max_volume_fraction must be in (0, 1], got {self.max_volume_fraction}"
            )
        if self.fee_bps < 0:
            raise ValueError(f"fee_bps must be >= 0, got {self.fee_bps}")

    @property
    def fee_rate(self) -> Decimal:
        return Decimal(repr(self.fee_bps)) / Decimal(10_000)


@dataclass(slots=True, kw_only=True)
class SimOrder:
    """An order as the venue holds it (mutable: it fills and gets canceled)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    time_in_force: str  # GTC, or "" for market orders
    price: Decimal  # 0 for market orders
    orig_qty: Decimal
    executed_qty: Decimal = ZERO
    cumulative_quote_qty: Decimal = ZERO
    status: OrderState = OrderState.NEW
    time_ms: int
    update_time_ms: int
    next_bar_ms: int = 0  # the first bar (open time) this order may match against
    locked: Decimal = ZERO  # still reserved: quote (with fees) for a buy, base for a sell

    @property
    def remaining_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class SimTrade:
    """One fill of one order."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool
