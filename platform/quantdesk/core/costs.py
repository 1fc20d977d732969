"""One cost model shared by the backtest and the paper broker, so their results compare."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DUST_QTY", "CostModel", "MarketRules"]

DUST_QTY = 1e-8


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Proportional fees and slippage, in basis points of traded notional.

    Slippage moves the fill price against the trader: a buy fills at
    `price * (1 + slippage_bps / 1e4)`, a sell at `price * (1 - slippage_bps / 1e4)`.
    The fee is `fee_bps / 1e4` of the filled notional, paid in the quote currency.
    """

    fee_bps: float = 10.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.fee_bps < 0 or self.slippage_bps < 0:
            raise ValueError(
                f"fee_bps ({self.fee_bps}) and slippage_bps ({self.slippage_bps}) must be >= 0"
            )

    @property
    def fee_rate(self) -> float:
        return self.fee_bps / 1e4

    @property
    def slippage_rate(self) -> float:
        return self.slippage_bps / 1e4

    def fill_price(self, price: float, side_sign: int) -> float:
        """Return the price a market order of the given side (+1 buy, -1 sell) fills at."""
        return price * (1.0 + side_sign * self.slippage_rate)

    def fee(self, notional: float) -> float:
        """Return the fee paid on a fill of `notional` (quote currency)."""
        return abs(notional) * self.fee_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    """A market's order constraints, from ccxt market info (`precision` and `limits`).

    Zero means "no constraint". Used by the backtest (min order size, lot step), the risk
    gate (order validity) and the brokers (quantization).
    """

    lot_step: float = 0.0
    tick_size: float = 0.0
    min_qty: float = 0.0
    max_qty: float = 0.0
    min_notional: float = 0.0

    @property
    def min_order_qty(self) -> float:
        """Return the smallest quantity worth an order: `min_qty`, or 1e-8 when the market sets none.

        Below 1e-8 a size is float noise, not a trade; 1e-8 is also vectorbt's default
        `min_size`, so the backtest, the sweep kernels and the live sizing agree on it.
        """
        return self.min_qty if self.min_qty > 0 else DUST_QTY

    @classmethod
    def from_ccxt_market(cls, market: dict) -> MarketRules:
        """Build rules from a ccxt unified market dict (precisionMode TICK_SIZE)."""
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        amount = limits.get("amount") or {}
        cost = limits.get("cost") or {}
        return cls(
            lot_step=float(precision.get("amount") or 0.0),
            tick_size=float(precision.get("price") or 0.0),
            min_qty=float(amount.get("min") or 0.0),
            max_qty=float(amount.get("max") or 0.0),
            min_notional=float(cost.get("min") or 0.0),
        )
