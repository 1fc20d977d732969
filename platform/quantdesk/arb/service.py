"""Scans end to end: open venues, read fresh books, price, keep episodes, report. No order is ever sent.

`scan_cross_venue` is one pass on REST books; `watch_cross_venue` follows the books (ccxt pro
streams, or REST polling for a venue without a stream) and prices a symbol again on every
update of one of its books, until stopped; `scan_triangles` prices the cycles of one venue.
Each hands what it found to an `OpportunityTracker`, whose store (the ledger, from the CLI)
keeps and notifies each opportunity once while it lasts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from quantdesk.arb.config import ArbConfig
from quantdesk.arb.edge import Size
from quantdesk.arb.feeds import (
    StreamFeed,
    Venue,
    fetch_books,
    fetch_one,
    listings_for,
    open_venues,
    reported_withdraw_fees,
)
from quantdesk.arb.freshness import BookStore, StaleBook
from quantdesk.arb.opportunity import (
    Opportunity,
    OpportunityStore,
    OpportunityTracker,
    TrackerUpdate,
)
from quantdesk.arb.scanner import CrossVenueScanner, SymbolScan
from quantdesk.arb.transfers import TransferCosts
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ArbitrageError, DepthExhaustedError

__all__ = ["BookSource", "ScanReport", "scan_cross_venue", "size_of", "watch_cross_venue"]


class BookSource(StrEnum):
    """Where a watch reads books: ccxt pro streams, REST polling, or streams where the venue has them."""

    AUTO = "auto"
    STREAM = "stream"
    REST = "rest"


@dataclass(slots=True)
class ScanReport:
    """What a scan found: opportunities above the threshold, the books it could not use, and notes."""

    opportunities: list[Opportunity] = field(default_factory=list)
    stale: list[StaleBook] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)  # keys notified by this scan (new episodes)
    closed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    best: list[Opportunity] = field(default_factory=list)  # each scope's best, also below the threshold
    evaluations: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's JSON: `{"opportunities": [...], "stale": [...], ...}`."""
        return {
            "opportunities": [o.to_json() for o in self.opportunities],
            "stale": [{"venue": s.venue, "symbol": s.symbol, "reason": s.reason, "age_ms": s.age_ms}
                      for s in self.stale],
            "opened": list(self.opened), "closed": list(self.closed),
            "best": [{"key": o.key, "edge_bps": str(o.edge_bps), "profit_quote": str(o.profit_quote)} for o in self.best],
            "notes": list(self.notes), "evaluations": self.evaluations,
        }


def _cross_venue(venues: Sequence[str], symbols: Sequence[str], size: Size, config: ArbConfig, clock: Clock
                 ) -> tuple[dict[str, Venue], CrossVenueScanner, list[str]]:
    opened = open_venues(list(venues))
    listings = listings_for(opened, list(symbols), rates=config.rates, taker_fee_bps=config.taker_fee_bps)
    notes: list[str] = []
    reported: dict[str, Any] = {}
    if config.include_transfer:
        reported, notes = reported_withdraw_fees(opened, config.network)
    transfers = TransferCosts(reported, config.transfer_costs, include=config.include_transfer)
    store = BookStore(clock, max_age_ms=config.max_age_ms)
    scanner = CrossVenueScanner(listings, store, size, min_edge_bps=config.min_edge_bps, transfers=transfers,
                                rates=config.rates)
    for venue, symbol in scanner.books_needed:  # rate series' books too: they must be listed where named
        if venue not in opened:
            raise ArbitrageError(f"rate series {symbol}@{venue} names venue {venue}, which is not scanned: "
                                 f"add --venue {venue}")
        if symbol not in opened[venue].markets:
            raise ArbitrageError(f"rate series {symbol}@{venue}: {symbol} is not listed on {venue}")
    return opened, scanner, notes


def _track(tracker: OpportunityTracker, result: SymbolScan, report: ScanReport) -> TrackerUpdate:
    update = tracker.observe(f"cross_venue:{result.symbol}", [result.opportunity] if result.opportunity else [],
                             unknown={f"{book.symbol}@{book.venue}" for book in result.stale})
    report.opened += [o.key for o in update.opened]
    report.closed += list(update.closed)
    return update


def scan_cross_venue(venues: Sequence[str], symbols: Sequence[str], size: Size, config: ArbConfig, *,
                     store: OpportunityStore | None = None, clock: Clock | None = None) -> ScanReport:
    """Price `size` of each symbol across `venues` once, on REST books fetched now.

    A book too thin for the size on any venue is an error (DepthExhaustedError, "depth
    exhausted at N levels"), and so is a size under a market's lot or minimum order; both are
    raised before anything is stored.
    """
    clock = clock or SystemClock()
    opened, scanner, notes = _cross_venue(venues, symbols, size, config, clock)
    results = []
    for symbol in scanner.listings:  # fetch a symbol's books (a thread per venue), price it at once: all fresh
        fetch_books(opened, scanner.books_for(symbol), scanner.store, limit=config.book_levels)
        results.append(scanner.evaluate(symbol))
    for result in results:  # one pass asked for this size: a book or market it does not fit is bad input
        for problem in result.problems:
            raise (DepthExhaustedError if "depth exhausted" in problem else ArbitrageError)(problem)
    report = ScanReport(notes=notes)
    tracker = OpportunityTracker(store, clock=clock)
    for result in results:
        report.evaluations += 1
        report.stale += list(result.stale)
        report.notes += [p for p in result.problems]
        report.best += [result.best] if result.best else []
        report.opportunities += [result.opportunity] if result.opportunity else []
        _track(tracker, result, report)
    return report


def watch_cross_venue(venues: Sequence[str], symbols: Sequence[str], size: Size, config: ArbConfig, *,
                      store: OpportunityStore | None = None, clock: Clock | None = None,
                      duration_s: float | None = None, source: BookSource = BookSource.AUTO,
                      stop: threading.Event | None = None, sweep_ms: int = 250,
                      on_event: Callable[[str, Any], None] | None = None) -> ScanReport:
    """Follow the books and price each symbol again on every update until `stop` or `duration_s`.

    `on_event(kind, value)` hears `opened` (an Opportunity), `closed` (a key), `stale` and
    `fresh` (a StaleBook / a "venue symbol" string) as they happen, and `scan` (each SymbolScan). Every `sweep_ms` each
    symbol is priced again even without an update, so a silent venue is noticed (stale).
    """
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    emit = on_event or (lambda kind, value: None)
    opened, scanner, notes = _cross_venue(venues, symbols, size, config, clock)
    affected: dict[tuple[str, str], list[str]] = {}
    for symbol, listings in scanner.listings.items():
        for listing in listings:
            affected.setdefault((listing.venue, listing.symbol), []).append(symbol)
    for series in config.rates:
        affected.setdefault((series.venue, series.symbol), list(scanner.listings))
    updates: queue.Queue[tuple[str, str]] = queue.Queue()
    feeds, pollers = _start_feeds(opened, scanner, source, config, updates, stop)
    report = ScanReport(notes=notes)
    tracker = OpportunityTracker(store, clock=clock)
    stale_now: dict[tuple[str, str], StaleBook] = {}
    started = time.monotonic()
    deadline = None if duration_s is None else started + duration_s
    grace_s = max(2.0, config.max_age_ms / 1000)  # the first books are on their way: not stale yet
    last_sweep = 0.0

    def evaluate(symbol: str) -> None:
        result = scanner.evaluate(symbol)
        report.evaluations += 1
        emit("scan", result)
        update = _track(tracker, result, report)
        for found in update.opened:
            report.opportunities.append(found)
            emit("opened", found)
        for key in update.closed:
            emit("closed", key)
        listed = {(listing.venue, listing.symbol) for listing in scanner.listings[symbol]}
        waiting = time.monotonic() - started < grace_s
        for book in result.stale:
            if waiting and book.age_ms is None and (book.venue, book.symbol) not in stale_now:
                continue
            if (book.venue, book.symbol) not in stale_now:
                report.stale.append(book)
                emit("stale", book)
            stale_now[(book.venue, book.symbol)] = book
        fresh = listed - {(b.venue, b.symbol) for b in result.stale}  # listed: the symbol's own books
        for market in fresh & set(stale_now):
            del stale_now[market]
            emit("fresh", f"{market[0]} {market[1]}")

    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                venue, symbol = updates.get(timeout=0.05)
                for name in affected.get((venue, symbol), []):
                    evaluate(name)
            except queue.Empty:
                pass
            if (time.monotonic() - last_sweep) * 1000 >= sweep_ms:
                last_sweep = time.monotonic()
                for name in scanner.listings:
                    evaluate(name)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for feed in feeds:
            feed.stop()
        for poller in pollers:
            poller.join(timeout=15)
    report.stale = list(stale_now.values())  # what was stale when the watch ended
    report.notes += [e for feed in feeds for e in feed.errors]
    return report


def _start_feeds(opened: dict[str, Venue], scanner: CrossVenueScanner, source: BookSource, config: ArbConfig,
                 updates: queue.Queue[tuple[str, str]], stop: threading.Event
                 ) -> tuple[list[StreamFeed], list[threading.Thread]]:
    streamed: list[tuple[str, str]] = []
    polled: list[tuple[str, str]] = []
    for venue, symbol in scanner.books_needed:
        (streamed if _streams(venue, source) else polled).append((venue, symbol))
    feeds = []
    if streamed:
        feeds.append(StreamFeed(streamed, scanner.store, on_update=lambda v, s: updates.put((v, s)),
                                limit=config.book_levels).start())
    pollers = []
    by_venue: dict[str, list[str]] = {}
    for venue, symbol in polled:
        by_venue.setdefault(venue, []).append(symbol)
    for venue, symbols in by_venue.items():
        def poll(name: str = venue, wanted: list[str] = symbols) -> None:
            while not stop.is_set():
                for symbol in wanted:
                    fetch_one(opened[name], symbol, scanner.store, limit=config.book_levels)
                    updates.put((name, symbol))
                stop.wait(0.1)

        thread = threading.Thread(target=poll, name=f"arb-poll-{venue}", daemon=True)
        thread.start()
        pollers.append(thread)
    return feeds, pollers


def _streams(venue: str, source: BookSource) -> bool:
    """Stream a venue's books unless told otherwise; `auto` polls a venue reached at an API URL without a ws_url."""
    if source is not BookSource.AUTO:
        return source is BookSource.STREAM
    from quantdesk.ingest.exchange import resolve_venue

    _, config = resolve_venue(venue)
    return config.ws_url is not None or config.api_url is None


def size_of(amount: float | str | Decimal | None, amount_quote: float | str | Decimal | None) -> Size:
    """Return the Size of `--size` (base) or `--size-quote`, refusing both or neither."""
    if (amount is None) == (amount_quote is None):
        raise ArbitrageError("give one size: --size (base, e.g. 0.5) or --size-quote (quote, e.g. 1000)")
    return Size.base(amount) if amount is not None else Size.quote(amount_quote)  # type: ignore[arg-type]
