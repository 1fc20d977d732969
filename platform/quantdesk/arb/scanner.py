"""Cross-venue scanning: for a symbol on several venues, the best executable pair for a size, on fresh books.

For each venue with a fresh book (`BookStore`), the buy leg (the asks) and the sell leg (the
bids) are walked for the size once per book version and kept; the buy venue is the one whose
cost per unit with its fee is lowest, the sell venue the other one whose proceeds per unit
after fee and transfer are highest; that pair is then priced exactly by `cross_venue_edge`.
An update to one venue's book costs two walks and one exact pricing, whatever the number of
venues (bench/arb.py times it).

A venue whose market quotes another currency than the reference symbol (BTC/USDC against
BTC/USDT) is priced through a named rate series (`RateSeries`, a market on a venue with a
fresh book): costs convert at its ask, proceeds at its bid; never at an assumed 1:1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.arb.books import MarketRules, book_side, qty_for_quote
from quantdesk.arb.edge import CrossVenueEdge, Leg, Size, SizeUnit, cross_venue_edge, leg_of
from quantdesk.arb.freshness import BookSnapshot, BookStore, StaleBook
from quantdesk.arb.opportunity import Opportunity, OpportunityKind, OpportunityLeg
from quantdesk.arb.transfers import TransferCosts
from quantdesk.core.errors import ArbitrageError, DepthExhaustedError
from quantdesk.core.money import to_decimal
from quantdesk.core.types import Side

__all__ = ["CrossVenueScanner", "Listing", "RateSeries", "SymbolScan"]

ONE = Decimal(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """A symbol as one venue lists it: its market (lot, tick, limits) and taker fee rate."""

    venue: str
    symbol: str  # the venue's own symbol: BTC/USDC where the reference is BTC/USDT
    market: Mapping[str, Any] | None = None
    taker_fee: Decimal = Decimal("0.001")

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateSeries:
    """A named conversion between two currencies: the book of `symbol` on `venue` (`USDC/USDT@binance`)."""

    venue: str
    symbol: str

    @property
    def name(self) -> str:
        return f"{self.symbol}@{self.venue}"

    @classmethod
    def parse(cls, text: str) -> RateSeries:
        """Read `BASE/QUOTE@VENUE`."""
        symbol, at, venue = text.partition("@")
        if not at or "/" not in symbol or not venue:
            raise ArbitrageError(f"rate series {text!r} is not MARKET@VENUE: write e.g. USDC/USDT@binance")
        return cls(venue=venue, symbol=symbol)

    def converts(self, currency: str, reference: str) -> bool:
        return set(self.symbol.split("/")) == {currency, reference}


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolScan:
    """One evaluation of a symbol: the best pair (even below the threshold), stale books, thin books."""

    symbol: str
    best: Opportunity | None = None
    opportunity: Opportunity | None = None  # `best` when its edge reaches min_edge_bps
    stale: tuple[StaleBook, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(slots=True)
class _Sides:
    version: int
    buy: Leg | str  # the leg, or why it cannot be taken
    sell: Leg | str


@dataclass(slots=True)
class _Priced:
    listing: Listing
    book: BookSnapshot
    buy_rate: Decimal
    sell_rate: Decimal
    ages: list[tuple[tuple[str, str], int]] = field(default_factory=list)  # ((venue, symbol), ms) of books used
    conversions: list[dict[str, str]] = field(default_factory=list)


class CrossVenueScanner:
    """Price a size across venues for each reference symbol, from a BookStore (see the module doc)."""

    def __init__(self, listings: Mapping[str, Sequence[Listing]], store: BookStore, size: Size, *,
                 min_edge_bps: Decimal | float | int = 0, transfers: TransferCosts | None = None,
                 rates: Sequence[RateSeries] = ()) -> None:
        self.listings = {symbol: list(found) for symbol, found in listings.items()}
        self.store, self.size = store, size
        self.min_edge_bps = to_decimal(min_edge_bps)
        self.transfers = transfers or TransferCosts()
        self.rates = list(rates)
        self._cache: dict[tuple[str, str], _Sides] = {}
        self._rules = {(listing.venue, listing.symbol): MarketRules.of(listing.market)
                       for found in self.listings.values() for listing in found}
        self._rate_for: dict[tuple[str, str], RateSeries] = {}
        for symbol, found in self.listings.items():
            if len(found) < 2:
                raise ArbitrageError(f"{symbol} is listed on {len(found)} venue(s): a cross-venue scan needs two or more")
            reference = Listing(venue="", symbol=symbol).quote
            for listing in found:
                if listing.quote != reference:
                    self._rate_for[(listing.venue, symbol)] = self._series(listing, symbol, reference)

    def _series(self, listing: Listing, symbol: str, reference: str) -> RateSeries:
        for series in self.rates:
            if series.converts(listing.quote, reference):
                return series
        raise ArbitrageError(
            f"{listing.symbol} on {listing.venue} is quoted in {listing.quote}, {symbol} in {reference}: pass a rate "
            f"series to convert (--rate {listing.quote}/{reference}@VENUE); quotes are never taken as 1:1")

    @property
    def books_needed(self) -> list[tuple[str, str]]:
        """Return every (venue, symbol) book the scans read: the listings' and the rate series'."""
        return sorted({book for symbol in self.listings for book in self.books_for(symbol)})

    def books_for(self, symbol: str) -> list[tuple[str, str]]:
        """Return the (venue, symbol) books one symbol's evaluation reads, rate series' included."""
        needed = {(listing.venue, listing.symbol) for listing in self.listings[symbol]}
        needed |= {(series.venue, series.symbol) for (_, of), series in self._rate_for.items() if of == symbol}
        return sorted(needed)

    def scan(self, now_ms: int | None = None) -> list[SymbolScan]:
        """Evaluate every symbol once."""
        return [self.evaluate(symbol, now_ms) for symbol in self.listings]

    # -- one symbol ---------------------------------------------------------------------------

    def evaluate(self, symbol: str, now_ms: int | None = None) -> SymbolScan:
        """Return the best executable pair for `symbol` on the books fresh at `now_ms`."""
        now = self.store.clock.now_ms() if now_ms is None else now_ms
        priced: list[_Priced] = []
        stale: list[StaleBook] = []
        for listing in self.listings[symbol]:
            found = self._priced(listing, symbol, now)
            if isinstance(found, StaleBook):
                stale.append(found)
            else:
                priced.append(found)
        problems: list[str] = []
        if len(priced) < 2:
            return SymbolScan(symbol=symbol, stale=tuple(stale))
        sides = {p.listing.venue: self._sides(p, problems) for p in priced}
        pair = self._best_pair(priced, sides)
        if pair is None:
            return SymbolScan(symbol=symbol, stale=tuple(stale), problems=tuple(problems))
        buy, sell = pair
        try:
            opportunity = self._price(symbol, buy, sell)
        except DepthExhaustedError as e:
            problems.append(f"{symbol}: {e}")
            return SymbolScan(symbol=symbol, stale=tuple(stale), problems=tuple(problems))
        hit = opportunity if opportunity.edge_bps >= self.min_edge_bps else None
        return SymbolScan(symbol=symbol, best=opportunity, opportunity=hit, stale=tuple(stale),
                          problems=tuple(problems))

    def _priced(self, listing: Listing, symbol: str, now: int) -> _Priced | StaleBook:
        book = self.store.get(listing.venue, listing.symbol, now)
        if isinstance(book, StaleBook):
            return book
        result = _Priced(listing=listing, book=book, buy_rate=ONE, sell_rate=ONE,
                         ages=[((listing.venue, listing.symbol), now - book.received_ms)])
        series = self._rate_for.get((listing.venue, symbol))
        if series is None:
            return result
        rate_book = self.store.get(series.venue, series.symbol, now)
        if isinstance(rate_book, StaleBook):
            return StaleBook(venue=listing.venue, symbol=listing.symbol, age_ms=rate_book.age_ms,
                             reason=f"its rate series {series.name} is unusable: {rate_book.reason}")
        bid, ask = _top(rate_book.book, "bids"), _top(rate_book.book, "asks")
        if bid is None or ask is None:
            return StaleBook(venue=listing.venue, symbol=listing.symbol, reason=f"rate series {series.name} has an empty side")
        if series.symbol.startswith(listing.quote + "/"):  # X/REF: buy X at the ask, sell X at the bid
            result.buy_rate, result.sell_rate = ask, bid
        else:  # REF/X: one X costs 1/bid of REF, and brings 1/ask
            result.buy_rate, result.sell_rate = ONE / bid, ONE / ask
        result.ages.append(((series.venue, series.symbol), now - rate_book.received_ms))
        result.conversions = [{"series": series.name, "from": listing.quote, "to": symbol.split("/")[1],
                               "buy_rate": str(result.buy_rate), "sell_rate": str(result.sell_rate)}]
        return result

    def _sides(self, priced: _Priced, problems: list[str]) -> _Sides:
        key = (priced.listing.venue, priced.listing.symbol)
        cached = self._cache.get(key)
        if cached is None or cached.version != priced.book.version:
            cached = _Sides(priced.book.version, *(self._leg(priced, side) for side in ("asks", "bids")))
            self._cache[key] = cached
        for leg, side in ((cached.buy, "asks"), (cached.sell, "bids")):
            if isinstance(leg, str):
                problems.append(f"{priced.listing.symbol} on {priced.listing.venue} ({side}): {leg}")
        return cached

    def _leg(self, priced: _Priced, side: str) -> Leg | str:
        """One venue's leg for the size, for ranking (a quote size is bought on this venue's own asks)."""
        rules = self._rules[(priced.listing.venue, priced.listing.symbol)]
        try:
            if self.size.unit is SizeUnit.QUOTE:
                amount = self.size.amount / priced.buy_rate  # the reference amount in this market's quote
                qty = qty_for_quote(book_side(priced.book.book, "asks"), amount)
            else:
                qty = self.size.amount
            qty = rules.round_qty(qty)
            if qty <= 0:
                return f"size {self.size} rounds to 0 at lot step {rules.lot}"
            return leg_of(Side.BUY if side == "asks" else Side.SELL, priced.book.book, qty,
                          priced.listing.taker_fee, rules)
        except ArbitrageError as e:
            return str(e)

    def _best_pair(self, priced: list[_Priced], sides: dict[str, _Sides]) -> tuple[_Priced, _Priced] | None:
        buys: list[tuple[_Priced, Leg]] = []
        sells: list[tuple[_Priced, Leg]] = []
        for p in priced:
            buy_leg, sell_leg = sides[p.listing.venue].buy, sides[p.listing.venue].sell
            if isinstance(buy_leg, Leg):
                buys.append((p, buy_leg))
            if isinstance(sell_leg, Leg):
                sells.append((p, sell_leg))
        # per unit, in the reference currency, fees included: cheapest buy first, dearest sell first
        buys.sort(key=lambda item: (item[1].notional + item[1].fee) * item[0].buy_rate / item[1].qty)
        sells.sort(key=lambda item: -(item[1].notional - item[1].fee) * item[0].sell_rate / item[1].qty)
        candidates = []
        for buy, _ in buys[:2]:  # the cheapest buy, and the runner-up in case the cheapest is also the best sell
            for sell, _ in sells[:2]:
                if buy.listing.venue != sell.listing.venue:
                    candidates.append((buy, sell))
                    break
        if not candidates:
            return None

        def per_unit(pair: tuple[_Priced, _Priced]) -> Decimal:
            buy_leg, sell_leg = sides[pair[0].listing.venue].buy, sides[pair[1].listing.venue].sell
            assert isinstance(buy_leg, Leg) and isinstance(sell_leg, Leg)
            return ((sell_leg.notional - sell_leg.fee) * pair[1].sell_rate / sell_leg.qty
                    - (buy_leg.notional + buy_leg.fee) * pair[0].buy_rate / buy_leg.qty)

        return max(candidates, key=per_unit)

    def _price(self, symbol: str, buy: _Priced, sell: _Priced) -> Opportunity:
        size = self.size
        if size.unit is SizeUnit.QUOTE:  # the reference amount, spent in the buy market's quote currency
            size = Size.quote(size.amount / buy.buy_rate)
        sell_price = _top(sell.book.book, "bids") or Decimal(0)
        transfer, source = self.transfers.cost(buy.listing, sell.listing, price=sell_price * sell.sell_rate,
                                               quote_rate=sell.sell_rate)
        edge: CrossVenueEdge = cross_venue_edge(
            buy.book.book, sell.book.book, size, buy_fee=buy.listing.taker_fee, sell_fee=sell.listing.taker_fee,
            transfer_cost=transfer, buy_market=self._rules[(buy.listing.venue, buy.listing.symbol)],
            sell_market=self._rules[(sell.listing.venue, sell.listing.symbol)],
            buy_quote_rate=buy.buy_rate, sell_quote_rate=sell.sell_rate)
        legs = tuple(_leg_json(p.listing, leg) for p, leg in ((buy, edge.buy), (sell, edge.sell)))
        ages = {f"{venue} {name}": age for (venue, name), age in buy.ages + sell.ages}
        return Opportunity(
            kind=OpportunityKind.CROSS_VENUE, scope=f"cross_venue:{symbol}", legs=legs,
            size=self.size.amount, size_unit=self.size.unit.value,
            size_currency=symbol.split("/")[0] if self.size.unit is SizeUnit.BASE else symbol.split("/")[1],
            edge_bps=edge.edge_bps, profit_quote=edge.profit_quote, quote_currency=symbol.split("/")[1],
            book_age_ms=max(ages.values()), book_ages=ages, detected_at=self.store.clock.now(),
            transfer_cost=edge.transfer_cost, transfer_cost_source=source,
            conversions=tuple(buy.conversions + sell.conversions))


def _leg_json(listing: Listing, leg: Leg) -> OpportunityLeg:
    return OpportunityLeg(venue=listing.venue, symbol=listing.symbol, side=leg.side, qty=leg.qty,
                          avg_price=leg.avg_price, fee=leg.fee, fee_currency=listing.quote,
                          limit_price=leg.limit_price, levels=leg.levels)


def _top(book: Mapping[str, Any], side: str) -> Decimal | None:
    levels = book.get(side) or ()
    return to_decimal(levels[0][0]) if levels else None
