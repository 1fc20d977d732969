"""Walking a ccxt-shaped order book for a size, exactly (Decimal), and a market's lot and tick.

A book is ccxt's `{"bids": [[price, qty], ...], "asks": [[price, qty], ...]}`, best level
first; prices and quantities may be floats (ccxt parses them so), strings or Decimals. A
float becomes the Decimal of its shortest repr (`quantdesk.core.money.to_decimal`), so the
`0.1` ccxt parsed from `"0.1"` is `Decimal("0.1")` again. Only the levels a size reaches are
converted: a deep book costs nothing past the levels used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from quantdesk.core.errors import ArbitrageError, DataError, DepthExhaustedError
from quantdesk.core.money import quantize_down, to_decimal

__all__ = ["Fill", "MarketRules", "book_side", "qty_for_quote", "round_price", "take"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """What taking `qty` from one side of a book gives: its quote notional, levels used, worst price."""

    qty: Decimal
    notional: Decimal
    levels: int
    worst_price: Decimal

    @property
    def avg_price(self) -> Decimal:
        """Return the depth-weighted average price (notional / qty)."""
        return self.notional / self.qty


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    """A market's order constraints as Decimals, from ccxt's market dict (zero: no constraint)."""

    lot: Decimal = ZERO
    tick: Decimal = ZERO
    min_qty: Decimal = ZERO
    min_cost: Decimal = ZERO

    @classmethod
    def of(cls, market: Mapping[str, Any] | MarketRules | None) -> MarketRules:
        """Read `precision.amount` (lot), `precision.price` (tick) and `limits` of a ccxt market (TICK_SIZE mode)."""
        if isinstance(market, MarketRules):
            return market
        if not market:
            return _NO_RULES
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}

        def number(value: Any) -> Decimal:
            return ZERO if value is None else to_decimal(value)

        return cls(lot=number(precision.get("amount")), tick=number(precision.get("price")),
                   min_qty=number((limits.get("amount") or {}).get("min")),
                   min_cost=number((limits.get("cost") or {}).get("min")))

    def round_qty(self, qty: Decimal) -> Decimal:
        """Round `qty` down to the lot step, as an order must be (never more than asked)."""
        return quantize_down(qty, self.lot) if self.lot > 0 else qty


_NO_RULES = MarketRules()


def round_price(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """Round a limit price to the tick: up for a buy (it must still reach the level), down for a sell."""
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick


def book_side(book: Mapping[str, Any], side: str) -> Sequence[Sequence[Any]]:
    """Return the `bids` or `asks` of a ccxt-shaped book, refusing anything else by name."""
    try:
        levels = book[side]
    except (KeyError, TypeError):
        raise DataError(f"the order book has no {side!r}: pass ccxt's shape "
                        '{"bids": [[price, qty], ...], "asks": [[price, qty], ...]}') from None
    if levels is None:
        raise DataError(f"the order book's {side!r} is None: pass a list of [price, qty] levels, best first")
    return levels


def _levels(levels: Sequence[Sequence[Any]], side: str) -> Any:
    """Yield (price, qty) as Decimals, checking the side is best first (asks rising, bids falling)."""
    previous: Decimal | None = None
    for index, level in enumerate(levels):
        price, qty = to_decimal(level[0]), to_decimal(level[1])
        if price <= 0 or qty < 0:
            raise DataError(f"level {index + 1} of the {side} is [{price}, {qty}]: prices must be positive and "
                            "quantities not negative")
        if previous is not None and (price < previous if side == "asks" else price > previous):
            raise DataError(f"the {side} are not best first: level {index + 1} at {price} comes after {previous}; "
                            "pass the book as ccxt returns it")
        previous = price
        if qty > 0:
            yield price, qty


def take(levels: Sequence[Sequence[Any]], qty: Decimal, *, side: str) -> Fill:
    """Take `qty` (base) from `levels` (`side` "asks" for a buy, "bids" for a sell), best level first.

    Raise DepthExhaustedError ("depth exhausted at N levels") when the side holds less than
    `qty`: no price is made up for the part the book does not have.
    """
    if qty <= 0:
        raise ArbitrageError(f"cannot take {qty} from the {side}: the quantity must be positive")
    remaining, notional, used, worst, held = qty, ZERO, 0, ZERO, ZERO
    for price, size in _levels(levels, side):
        used += 1
        part = size if size < remaining else remaining
        notional += part * price
        held += size
        remaining -= part
        worst = price
        if remaining == 0:
            return Fill(qty=qty, notional=notional, levels=used, worst_price=worst)
    raise DepthExhaustedError(
        f"depth exhausted at {used} levels: the {side} hold {held}, the order needs {qty}; use a smaller size",
        levels=used)


def qty_for_quote(levels: Sequence[Sequence[Any]], amount: Decimal, *, side: str = "asks") -> Decimal:
    """Return the base quantity whose notional on `levels` is exactly `amount` (quote), before lot rounding."""
    if amount <= 0:
        raise ArbitrageError(f"cannot spend {amount} on the {side}: the amount must be positive")
    remaining, qty, used, held = amount, ZERO, 0, ZERO
    for price, size in _levels(levels, side):
        used += 1
        value = size * price
        held += value
        if value >= remaining:
            return qty + remaining / price
        qty += size
        remaining -= value
    raise DepthExhaustedError(
        f"depth exhausted at {used} levels: the {side} hold {held} in quote, the order needs {amount}; "
        "use a smaller size", levels=used)
