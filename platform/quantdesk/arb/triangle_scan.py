"""One venue's triangular opportunities: tops of every book find the cycles, depth decides each.

The tops of all markets come in one request (ccxt `fetch_bids_asks`, else `fetch_tickers`);
`find_cycles` keeps the cycles through the start currency that beat their fees at the top;
only their markets' books are then fetched by REST, each just before its cycle is walked for
the size with `evaluate_cycle` (so a long list of cycles never prices on books gone old). A book too old or refused leaves its cycles unpriced and named in
`stale`; a book too thin for the size is a note, not a made-up price.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from quantdesk.arb.config import ArbConfig
from quantdesk.arb.edge import Size, SizeUnit
from quantdesk.arb.feeds import Venue, fetch_one, first_line, open_venues, taker_fee
from quantdesk.arb.freshness import BookStore, StaleBook
from quantdesk.arb.opportunity import (
    Opportunity,
    OpportunityKind,
    OpportunityLeg,
    OpportunityStore,
    OpportunityTracker,
)
from quantdesk.arb.service import ScanReport
from quantdesk.arb.triangles import Cycle, CycleResult, Quote, evaluate_cycle, find_cycles
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ArbitrageError

__all__ = ["scan_triangles"]


def _tops(venue: Venue) -> dict[str, Any]:
    import ccxt

    exchange = venue.exchange
    try:
        if exchange.has.get("fetchBidsAsks"):
            return dict(exchange.fetch_bids_asks())
        return dict(exchange.fetch_tickers())
    except ccxt.BaseError as e:
        raise ArbitrageError(f"cannot read the tops of {venue.name}'s books ({type(e).__name__}: {first_line(e)})") from e


def scan_triangles(venue_name: str, size: Size, config: ArbConfig, *, start: str | None = None, legs: int = 3,
                   store: OpportunityStore | None = None, clock: Clock | None = None,
                   candidates: int = 20) -> ScanReport:
    """Price the `candidates` best cycles of `legs` markets through `start` on one venue, for `size` of it."""
    if size.unit is not SizeUnit.QUOTE:
        raise ArbitrageError("a triangle starts from an amount of a currency: give --size-quote (e.g. 1000)")
    clock = clock or SystemClock()
    venue = open_venues([venue_name])[venue_name]
    spot = {s: m for s, m in venue.markets.items() if m.get("spot", True) and m.get("active") is not False
            and ":" not in s and "/" in s}
    if start is None:
        start = Counter(s.split("/")[1] for s in spot).most_common(1)[0][0] if spot else ""
    if start and not any(start in s.split("/") for s in spot):
        raise ArbitrageError(f"{start} is traded in no market of {venue_name}: pick --quote among its currencies")
    fees = {s: taker_fee(venue_name, m, config.taker_fee_bps) for s, m in spot.items()}
    tops = _tops(venue)
    quotes = [Quote(symbol=s, bid=(tops.get(s) or {}).get("bid"), ask=(tops.get(s) or {}).get("ask"),
                    fee=float(fees[s])) for s in spot if s in tops]
    cycles = find_cycles(quotes, legs=legs, start=start)
    report = ScanReport(notes=[f"{venue_name}: {len(quotes)} markets, {len(cycles)} cycles through {start} beat "
                               "their fees at the top of the books"])
    chosen = cycles[:candidates]
    books = BookStore(clock, max_age_ms=config.max_age_ms)
    stale: dict[str, StaleBook] = {}
    found: list[Opportunity] = []
    for cycle in chosen:  # fetch a cycle's books just before walking it (a book from an earlier cycle if recent)
        for edge in cycle.edges:
            held = books.get(venue_name, edge.symbol)
            if isinstance(held, StaleBook) or clock.now_ms() - held.received_ms > config.max_age_ms // 2:
                fetch_one(venue, edge.symbol, books, limit=config.book_levels)
        now = clock.now_ms()
        fresh = {}
        for edge in cycle.edges:
            book = books.get(venue_name, edge.symbol, now)
            if isinstance(book, StaleBook):
                stale[edge.symbol] = book
            else:
                fresh[edge.symbol] = book
        if len(fresh) < len(cycle.edges):
            continue
        try:
            result = evaluate_cycle(cycle, size.amount, {s: b.book for s, b in fresh.items()}, spot, fees)
        except ArbitrageError as e:
            report.notes.append(f"{_route(cycle)}: {e}")
            continue
        ages = {f"{venue_name} {s}": now - b.received_ms for s, b in fresh.items()}
        opportunity = _opportunity(venue_name, result, size, ages, clock)
        report.best.append(opportunity)
        if opportunity.edge_bps >= config.min_edge_bps:
            found.append(opportunity)
    report.stale = list(stale.values())
    report.opportunities = sorted(found, key=lambda o: -o.edge_bps)
    report.evaluations = len(chosen)
    update = OpportunityTracker(store, clock=clock).observe(
        f"triangular:{venue_name}", found, unknown={f"{s}@{venue_name}" for s in stale})
    report.opened, report.closed = [o.key for o in update.opened], list(update.closed)
    return report


def _route(cycle: Cycle) -> str:
    return " → ".join(f"{e.side.value} {e.symbol}" for e in cycle.edges)


def _opportunity(venue: str, result: CycleResult, size: Size, ages: dict[str, int], clock: Clock) -> Opportunity:
    legs = tuple(
        OpportunityLeg(venue=venue, symbol=edge.symbol, side=leg.side, qty=leg.qty, avg_price=leg.avg_price,
                       fee=leg.fee, fee_currency=edge.target, limit_price=leg.limit_price, levels=leg.levels)
        for edge, leg in zip(result.cycle.edges, result.legs, strict=True))
    return Opportunity(kind=OpportunityKind.TRIANGULAR, scope=f"triangular:{venue}", legs=legs, size=size.amount,
                       size_unit=size.unit.value, size_currency=result.cycle.start, edge_bps=result.edge_bps,
                       profit_quote=result.profit, quote_currency=result.cycle.start,
                       book_age_ms=max(ages.values(), default=0), book_ages=ages, detected_at=clock.now())

