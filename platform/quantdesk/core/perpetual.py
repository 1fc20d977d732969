"""An isolated-margin perpetual position as a value: fills, funding and liquidation.

One-way mode (one net position per contract). The model is the futures backtest's
(`quantdesk.backtest.futures`), in exact Decimal arithmetic for brokers and venues:

- a fill that opens or adds posts `qty * price / leverage` as isolated margin and moves the
  entry to the quantity-weighted average;
- a fill against the position realises `closed * (price - entry) * side` and releases the
  margin pro rata; a fill through zero closes, then opens the rest on the other side;
- funding pays `-qty * mark * rate` (a long pays a positive rate) out of the margin;
- the position is liquidated when the mark reaches `liquidation_price` (`quantdesk.core.margin`,
  Binance's tiers), which costs exactly its margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from quantdesk.core.margin import MarginTiers, liquidation_price

__all__ = ["IsolatedPosition"]

ZERO = Decimal(0)
STEP = Decimal("0.00000001")  # amounts kept to 8 decimals, as exchanges report them


@dataclass(frozen=True, slots=True, kw_only=True)
class IsolatedPosition:
    """One contract's position: signed qty (> 0 long), average entry, isolated margin, leverage."""

    leverage: Decimal = Decimal(20)  # Binance's default setting
    qty: Decimal = ZERO
    entry: Decimal = ZERO
    margin: Decimal = ZERO

    def opening_qty(self, signed: Decimal) -> Decimal:
        """Return how much of a fill of `signed` qty opens or adds (the rest reduces)."""
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            return abs(signed)
        return max(abs(signed) - abs(self.qty), ZERO)

    def initial_margin(self, signed: Decimal, price: Decimal) -> Decimal:
        """Return the margin a fill of `signed` qty at `price` would post."""
        return (self.opening_qty(signed) * price / self.leverage).quantize(STEP, ROUND_DOWN)

    def fill(self, signed: Decimal, price: Decimal) -> tuple[IsolatedPosition, Decimal]:
        """Apply a fill of `signed` qty at `price`; return the new position and the realised PnL."""
        qty, entry, margin, realized = self.qty, self.entry, self.margin, ZERO
        if qty != 0 and (qty > 0) != (signed > 0):  # reducing, maybe through zero
            closed = min(abs(signed), abs(qty))
            side = Decimal(1) if qty > 0 else Decimal(-1)
            realized = (closed * (price - entry) * side).quantize(STEP, ROUND_DOWN)
            margin -= (margin * closed / abs(qty)).quantize(STEP, ROUND_DOWN)
            qty -= closed * side
            signed += closed * side
            if qty == 0:
                entry, margin = ZERO, ZERO
        if signed != 0:  # opening or adding
            total = qty + signed
            entry = (abs(qty) * entry + abs(signed) * price) / abs(total)
            margin += (abs(signed) * price / self.leverage).quantize(STEP, ROUND_DOWN)
            qty = total
        return replace(self, qty=qty, entry=entry, margin=margin), realized

    def funding(self, mark: Decimal, rate: Decimal | float) -> tuple[IsolatedPosition, Decimal]:
        """Settle one funding interval at `mark`; return the new position and the payment (< 0: paid)."""
        payment = (-self.qty * mark * Decimal(str(rate))).quantize(STEP, ROUND_DOWN)
        return replace(self, margin=self.margin + payment), payment

    def liquidation_price(self, tiers: MarginTiers) -> float:
        """Return the mark price that liquidates the position (NaN when flat)."""
        return liquidation_price(float(self.qty), float(self.entry), float(self.margin), tiers)

    def liquidated_by(self, low: float, high: float, tiers: MarginTiers, open_: float | None = None) -> float | None:
        """Return the price a mark bar liquidates the position at, or None if it does not reach it.

        That is the liquidation price, or the bar's open when the mark gapped through it (as
        the futures backtest closes it).
        """
        if self.qty == 0:
            return None
        price = self.liquidation_price(tiers)
        if math.isnan(price) or not (low <= price if self.qty > 0 else high >= price):
            return None
        if open_ is not None and (open_ < price if self.qty > 0 else open_ > price):
            return open_
        return price

    def unrealized(self, mark: Decimal) -> Decimal:
        """Return the PnL the position would realise at `mark`."""
        return self.qty * (mark - self.entry)

    @property
    def flat(self) -> IsolatedPosition:
        """The same contract with no position (leverage kept): after a liquidation or a full close."""
        return replace(self, qty=ZERO, entry=ZERO, margin=ZERO)
