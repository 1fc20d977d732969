"""A futures deployment's book in float64, step for step the futures backtest's arithmetic.

`quantdesk.backtest.futures_kernel` holds a wallet and, per contract, a signed quantity, an
entry price and an isolated margin; so does `FuturesBook`, with the same operations in the same
order: a fill (fee out of the wallet; reducing realises PnL and releases margin pro rata;
opening posts `notional / leverage`), a funding settlement (`-qty * mark * rate`, from the
margin and the wallet), a liquidation (the margin is lost). Equity is the wallet plus the
unrealised PnL. The runner books fills into it as into the spot `Account`, and sizes orders
with `size_perpetual`, the backtest's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from quantdesk.core.costs import MarketRules
from quantdesk.live.sizing import Account, SizedOrder

__all__ = ["FuturesBook", "size_perpetual"]


@dataclass(slots=True)
class FuturesBook(Account):
    """Wallet (`cash`) and isolated positions per contract; mutable: the runner applies fills to it.

    An `Account` whose cash is the wallet: equity is the wallet plus unrealised PnL, not cash
    plus the positions' value.
    """

    leverage: float = 1.0
    entries: dict[str, float] = field(default_factory=dict)
    margins: dict[str, float] = field(default_factory=dict)
    funding_paid: float = 0.0

    def value(self, prices: dict[str, float]) -> float:
        """Return the wallet plus every position's unrealised PnL at `prices`."""
        out = self.cash
        for symbol, qty in self.positions.items():
            if qty:
                out += qty * (prices.get(symbol, self.entries[symbol]) - self.entries[symbol])
        return out

    def apply_fill(self, symbol: str, signed_qty: float, price: float, fee: float) -> None:
        """Book one fill as the kernel does (see the module doc)."""
        q, e, m = self.position(symbol), self.entries.get(symbol, 0.0), self.margins.get(symbol, 0.0)
        self.cash -= fee
        opening = signed_qty
        if q != 0.0 and (signed_qty > 0) != (q > 0):
            closing = min(abs(signed_qty), abs(q))
            side = 1.0 if q > 0 else -1.0
            self.cash += side * closing * (price - e)
            m -= m * closing / abs(q)
            q -= side * closing
            if abs(q) < 1e-12:
                q, e, m = 0.0, 0.0, 0.0
            opening = signed_qty + side * closing
        if abs(opening) > 1e-12:
            new_q = q + opening
            e = (q * e + opening * price) / new_q
            m += abs(opening) * price / self.leverage
            q = new_q
        self.positions[symbol], self.entries[symbol], self.margins[symbol] = q, e, m

    def fund(self, symbol: str, mark: float, rate: float) -> float:
        """Settle one funding interval at `mark`; return the cash (< 0: paid)."""
        q = self.position(symbol)
        if q == 0.0 or math.isnan(rate):
            return 0.0
        cash = -q * mark * rate
        self.cash += cash
        self.margins[symbol] = self.margins.get(symbol, 0.0) + cash
        self.funding_paid -= cash
        return cash

    def liquidate(self, symbol: str) -> float:
        """Close a liquidated position: its margin is lost. Return the margin."""
        lost = self.margins.get(symbol, 0.0)
        self.cash -= lost
        self.positions[symbol], self.entries[symbol], self.margins[symbol] = 0.0, 0.0, 0.0
        return lost


def size_perpetual(*, symbol: str, target: float, book: FuturesBook, price: float, rules: MarketRules,
                   allow_short: bool) -> SizedOrder:
    """Return the order that makes the position `target * equity * leverage / price` contracts.

    The futures backtest's rule: equity marked at `price`, the position rounded toward zero to
    the lot step, nothing below the minimum quantity. Margin sufficiency is the venue's check.
    """
    if math.isnan(target) or math.isnan(price):
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored", reason="no target or price")
    if not allow_short:
        target = max(target, 0.0)
    equity = book.value({symbol: price})
    if not equity > 0:
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason=f"equity {equity} <= 0")
    desired = target * equity * book.leverage / price
    if rules.lot_step > 0:
        desired = math.trunc(desired / rules.lot_step) * rules.lot_step
    dq = desired - book.position(symbol)
    if abs(dq) <= 1e-12:
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="ignored", reason="size zero")
    if abs(dq) < rules.min_qty:
        return SizedOrder(symbol=symbol, qty=0.0, price=price, status="rejected", reason="below min qty")
    return SizedOrder(symbol=symbol, qty=dq, price=price, status="order")
