"""Turn a target exposure into an order, exactly as the backtest's vectorbt `from_orders` does.

The backtest trades `size_type="targetpercent"` at bar t+1's open: the order quantity is
`target * value / open - position`, where `value = cash + sum(position * open)`; a buy is
cut to what the cash pays for (fees included, `allow_partial`), both sides are floored to
the lot step (`size_granularity`) and dropped below `min_qty` (`min_size`). This module is
that arithmetic in float64, kept step for step (including vectorbt's 1e-9 closeness
tests), so a replay reproduces the backtest's fills. Decimal starts at `to_intent_qty`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.money import quantize_nearest, to_decimal

__all__ = ["Account", "SizedOrder", "size_order", "to_intent_qty"]

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol


def _close(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


def _less(a: float, b: float) -> bool:
    return not _close(a, b) and a < b


def _floor(size: float, step: float) -> float:
    return size // step * step if step > 0 else size


@dataclass(slots=True)
class Account:
    """The deployment's book in float64: cash (quote) and positions (base) per symbol.

    Mutable on purpose: the runner applies each fill to it. `value(prices)` is equity.
    """

    cash: float
    positions: dict[str, float] = field(default_factory=dict)

    def position(self, symbol: str) -> float:
        return self.positions.get(symbol, 0.0)

    def value(self, prices: dict[str, float]) -> float:
        """Return cash plus every position marked at `prices` (missing prices count as 0)."""
        out = self.cash
        for symbol, qty in self.positions.items():
            if qty:
                out += qty * prices.get(symbol, 0.0)
        return out

    def apply_fill(self, symbol: str, signed_qty: float, price: float, fee: float) -> None:
        """Book one fill: the position moves by `signed_qty`, cash by its notional and fee."""
        self.cash -= signed_qty * price + fee
        self.positions[symbol] = self.positions.get(symbol, 0.0) + signed_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class SizedOrder:
    """The order a target asks for: signed base quantity (0: none) and why."""

    symbol: str
    qty: float  # signed: + buy, - sell; 0 when no order is placed
    price: float  # the reference (valuation) price the size was computed at
    status: str  # "order", "ignored" (nothing to do) or "rejected" (too small, no cash, ...)
    reason: str = ""

    @property
    def is_order(self) -> bool:
        return self.status == "order" and self.qty != 0.0


def size_order(
    *,
    symbol: str,
    target: float,
    position: float,
    cash: float,
    value: float,
    price: float,
    cost: CostModel,
    rules: MarketRules,
    allow_short: bool,
) -> SizedOrder:
    """Return the order that moves `position` to `target` of `value` at `price` (vectorbt's rules).

    `value` is the account's equity marked at this bar's reference prices (for several
    symbols sharing cash, computed once before the bar's orders, as vectorbt does).
    """
    if _close(cash, 0.0):
        cash = 0.0
    if _close(position, 0.0):
        position = 0.0
    if math.isnan(target) or math.isnan(price):
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored", reason="no target or price")
    if not value > 0:
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason=f"equity {value} <= 0")
    size = target * value / price - position
    fee_rate, slip = cost.fee_rate, cost.slippage_rate
    step = rules.lot_step
    if size > 0:
        adj_price = price * (1 + slip)
        if cash == 0:
            return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason="no cash")
        adj_size = _floor(size, step)
        req_cash = adj_size * adj_price
        total = req_cash + req_cash * fee_rate
        if _close(total, cash) or total < cash:
            final = adj_size
        else:
            max_req_cash = cash / (1 + fee_rate)
            if max_req_cash <= 0:
                return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason="cannot cover fees")
            final = _floor(max_req_cash / adj_price, step)
        if _close(adj_size, 0.0):
            return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored", reason="size zero")
        if _less(final, rules.min_order_qty):
            return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason="below min qty")
        return _checked(symbol, final, price, adj_price, rules)
    want = -size
    if not allow_short:
        if position == 0:
            return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored" if want == 0 else "rejected",
                              reason="no open position")
        want = min(position, want)
    limit = _floor(want, step)
    if _close(limit, 0.0):
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored", reason="size zero")
    if _less(limit, rules.min_order_qty):
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason="below min qty")
    return _checked(symbol, -limit, price, price * (1 - slip), rules)


def _checked(symbol: str, qty: float, price: float, fill_price: float, rules: MarketRules) -> SizedOrder:
    # min notional is the venue's rule, not vectorbt's: the venue would refuse the order anyway
    if rules.min_notional and abs(qty) * fill_price < rules.min_notional:
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected",
                          reason=f"notional {abs(qty) * fill_price:.8g} below min notional {rules.min_notional}")
    return SizedOrder(symbol=symbol, qty=qty, price=price, status="order")


def to_intent_qty(qty: float, rules: MarketRules) -> Decimal:
    """Return the unsigned Decimal quantity for an intent: on the lot grid when there is one.

    The float size is already floored to the lot step; rounding to the nearest step only
    removes float noise (0.30000000000000004 -> 0.3), it never adds a lot.
    """
    q = abs(qty)
    return quantize_nearest(q, rules.lot_step) if rules.lot_step > 0 else to_decimal(q)
