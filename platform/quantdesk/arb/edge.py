"""The executable spread of buying on one book and selling on another, for a size, exactly.

    edge = (sell proceeds − sell fees − buy cost − buy fees − transfer cost) / (buy cost + buy fees)

Quantities are rounded down to both markets' lot steps (both legs trade the same quantity, or
the desk would end with inventory it did not ask for); each leg walks its book level by
level; the limit price an order would carry is the worst level reached, rounded to the tick
away from the book's side (a buy rounds up, a sell down) so it still reaches every level
used. Fees are the taker fee rate times each leg's notional, in the quote currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from quantdesk.arb.books import MarketRules, book_side, qty_for_quote, round_price, take
from quantdesk.core.errors import ArbitrageError
from quantdesk.core.money import to_decimal
from quantdesk.core.types import Side

__all__ = ["BPS", "CrossVenueEdge", "Leg", "Size", "SizeUnit", "cross_venue_edge", "leg_of"]

BPS = Decimal(10_000)
Number = Decimal | int | float | str


class SizeUnit(StrEnum):
    """What a size counts: the base asset (0.5 BTC) or the quote currency spent on the buy (1000 USDT)."""

    BASE = "base"
    QUOTE = "quote"


@dataclass(frozen=True, slots=True, kw_only=True)
class Size:
    """A size in base or quote units; `Size.base("0.5")`, `Size.quote(1000)`."""

    amount: Decimal
    unit: SizeUnit = SizeUnit.BASE

    @classmethod
    def base(cls, amount: Number) -> Size:
        return cls(amount=_positive(amount, "size"), unit=SizeUnit.BASE)

    @classmethod
    def quote(cls, amount: Number) -> Size:
        return cls(amount=_positive(amount, "size"), unit=SizeUnit.QUOTE)

    @classmethod
    def of(cls, size: Size | Number) -> Size:
        """Return `size` as a Size; a bare number is a base quantity."""
        return size if isinstance(size, Size) else cls.base(size)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"


def _positive(value: Number, what: str) -> Decimal:
    try:
        amount = to_decimal(value)
    except (ValueError, ArithmeticError):
        raise ArbitrageError(f"{what} {value!r} is not a number: pass e.g. 0.5") from None
    if not amount.is_finite() or amount <= 0:
        raise ArbitrageError(f"{what} {value} must be a positive number, e.g. 0.5")
    return amount


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """One side of a trade as an order would execute it: quantity, average and limit price, notional, fee."""

    side: Side
    qty: Decimal
    avg_price: Decimal
    limit_price: Decimal
    notional: Decimal  # in the market's quote currency
    fee: Decimal  # in the quote currency (cross-venue); a triangle's buy pays it in the base it receives
    levels: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossVenueEdge:
    """Buy on one book, sell on the other: both legs, the transfer cost, the profit and the edge.

    `profit_quote` and `transfer_cost` are in the reference quote currency (the buy and sell
    legs' own quote currencies times their `quote_rate`); `edge_bps` is profit over what the
    buy leg costs with its fee, in basis points.
    """

    buy: Leg
    sell: Leg
    qty: Decimal
    transfer_cost: Decimal
    cost_quote: Decimal  # buy notional + buy fee, reference currency
    proceeds_quote: Decimal  # sell notional − sell fee, reference currency
    profit_quote: Decimal
    edge: Decimal
    edge_bps: Decimal


def leg_of(side: Side, book: Mapping[str, Any], qty: Decimal, fee_rate: Decimal, rules: MarketRules) -> Leg:
    """Take `qty` from the side of `book` a `side` order hits; return the leg with its fee."""
    fill = take(book_side(book, "asks" if side is Side.BUY else "bids"), qty,
                side="asks" if side is Side.BUY else "bids")
    return Leg(side=side, qty=qty, avg_price=fill.avg_price,
               limit_price=round_price(fill.worst_price, rules.tick, up=side is Side.BUY),
               notional=fill.notional, fee=fill.notional * fee_rate, levels=fill.levels)


def _check_minimums(qty: Decimal, notional: Decimal, rules: MarketRules, where: str) -> None:
    if rules.min_qty and qty < rules.min_qty:
        raise ArbitrageError(f"{where}: {qty} is below the market's minimum order quantity {rules.min_qty}; "
                             "use a larger size")
    if rules.min_cost and notional < rules.min_cost:
        raise ArbitrageError(f"{where}: a notional of {notional} is below the market's minimum {rules.min_cost}; "
                             "use a larger size")


def cross_venue_edge(
    buy_book: Mapping[str, Any],
    sell_book: Mapping[str, Any],
    size: Size | Number,
    *,
    buy_fee: Number,
    sell_fee: Number,
    transfer_cost: Number = 0,
    buy_market: Mapping[str, Any] | MarketRules | None = None,
    sell_market: Mapping[str, Any] | MarketRules | None = None,
    buy_quote_rate: Number = 1,
    sell_quote_rate: Number = 1,
) -> CrossVenueEdge:
    """Return the executable edge of buying `size` on `buy_book` and selling it on `sell_book`.

    `size` is a base quantity (a number or `Size.base`) or the quote amount to spend on the
    buy (`Size.quote`). `buy_fee`/`sell_fee` are taker fee rates (0.001 is 10 bps, as ccxt's
    `market["taker"]`). `buy_market`/`sell_market` are ccxt market dicts giving lot and tick
    (`precision`) and minimum order (`limits`). `transfer_cost` is in the reference quote
    currency; `buy_quote_rate`/`sell_quote_rate` convert each market's quote currency into it
    (1 when both books quote the same currency). Raise DepthExhaustedError when a book is too
    thin for the size and ArbitrageError for a size that rounds to nothing or is below a
    market's minimum order.

        >>> ask = {"bids": [], "asks": [["30000", "10"]]}
        >>> bid = {"bids": [["32000", "10"]], "asks": []}
        >>> cross_venue_edge(ask, bid, 10, buy_fee=0, sell_fee=0).edge_bps.quantize(Decimal("0.01"))
        Decimal('666.67')
    """
    size = Size.of(size)
    fees = {name: to_decimal(value) for name, value in (("buy_fee", buy_fee), ("sell_fee", sell_fee))}
    for name, rate in fees.items():
        if not (0 <= rate < 1):
            raise ArbitrageError(f"{name} {rate} is not a fee rate: pass a fraction such as 0.001 (10 bps)")
    buy_rate, sell_rate = to_decimal(buy_quote_rate), to_decimal(sell_quote_rate)
    if buy_rate <= 0 or sell_rate <= 0:
        raise ArbitrageError("a quote rate must be positive: it converts a market's quote currency into the reference")
    transfer = to_decimal(transfer_cost)
    if transfer < 0:
        raise ArbitrageError(f"transfer_cost {transfer} is negative: pass what moving the inventory back costs")
    buy_rules, sell_rules = MarketRules.of(buy_market), MarketRules.of(sell_market)
    if size.unit is SizeUnit.QUOTE:
        wanted = qty_for_quote(book_side(buy_book, "asks"), size.amount)
    else:
        wanted = size.amount
    qty = sell_rules.round_qty(buy_rules.round_qty(wanted))
    if qty <= 0:
        raise ArbitrageError(f"size {size} rounds to 0 at lot steps {buy_rules.lot} (buy) and {sell_rules.lot} "
                             "(sell); use a larger size")
    buy = leg_of(Side.BUY, buy_book, qty, fees["buy_fee"], buy_rules)
    sell = leg_of(Side.SELL, sell_book, qty, fees["sell_fee"], sell_rules)
    _check_minimums(qty, buy.notional, buy_rules, "the buy")
    _check_minimums(qty, sell.notional, sell_rules, "the sell")
    cost = (buy.notional + buy.fee) * buy_rate
    proceeds = (sell.notional - sell.fee) * sell_rate
    profit = proceeds - cost - transfer
    edge = profit / cost
    return CrossVenueEdge(buy=buy, sell=sell, qty=qty, transfer_cost=transfer, cost_quote=cost,
                          proceeds_quote=proceeds, profit_quote=profit, edge=edge, edge_bps=edge * BPS)
