"""Books from venues through `quantdesk.ingest`'s client factory: REST snapshots and ccxt pro streams.

Every venue is opened with `make_exchange` (a venue named in quantdesk.toml or a ccxt id), so
the scanner sees what ingestion and the brokers see. REST books are fetched one thread per
venue (a ccxt client is not shared between threads); a stream follows each book with
`watch_order_book` (ccxt splices the snapshot and the diffs by update id, and raises on a
gap: the book is then refused until the next snapshot). A failure never prices on an old
book: the store refuses that book and the scan names the venue.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.arb.freshness import BookStore
from quantdesk.arb.scanner import Listing, RateSeries
from quantdesk.arb.transfers import withdraw_fees
from quantdesk.core.errors import ArbitrageError, ConfigError, QuantdeskError
from quantdesk.core.money import to_decimal

__all__ = ["StreamFeed", "Venue", "fetch_books", "fetch_one", "first_line", "listings_for", "open_venues",
           "reported_withdraw_fees", "taker_fee"]


@dataclass(slots=True)
class Venue:
    """An opened venue: its name, its ccxt client and markets (precision as tick sizes)."""

    name: str
    exchange: Any
    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def first_line(error: BaseException) -> str:
    """Return the first line of an error's message (at most 200 characters), or its type's name."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def open_venues(names: Sequence[str], *, timeout_ms: int = 10_000) -> dict[str, Venue]:
    """Open each venue and load its markets; a name that is neither configured nor a ccxt id is refused."""
    import ccxt

    from quantdesk.ingest.exchange import make_exchange

    if len(set(names)) != len(names):
        raise ArbitrageError(f"venues {list(names)} repeat one: name each venue once")
    opened: dict[str, Venue] = {}
    for name in names:
        exchange = make_exchange(name, timeout_ms=timeout_ms)
        try:
            markets = exchange.load_markets()
        except ccxt.BaseError as e:
            raise ArbitrageError(f"cannot load the markets of venue {name} ({type(e).__name__}: {first_line(e)}); "
                                 "check that it is up and reachable") from e
        opened[name] = Venue(name=name, exchange=exchange, markets=_tick_sized(exchange, markets))
    return opened


def _tick_sized(exchange: Any, markets: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Markets with precision as tick sizes, whatever the exchange's precision mode."""
    import ccxt

    if exchange.precisionMode != ccxt.DECIMAL_PLACES:
        return dict(markets)
    out = {}
    for symbol, market in markets.items():
        precision = dict(market.get("precision") or {})
        for key in ("amount", "price"):
            if precision.get(key) is not None:
                precision[key] = Decimal(1).scaleb(-int(precision[key]))
        out[symbol] = {**market, "precision": precision}
    return out


def listings_for(venues: Mapping[str, Venue], symbols: Sequence[str], *, rates: Sequence[RateSeries] = (),
                 taker_fee_bps: Mapping[str, Any] | None = None) -> dict[str, list[Listing]]:
    """Return each symbol's listing on every venue; refuse a symbol a venue does not list (with what it lists).

    A venue listing the symbol's base against another quote is used only when a rate series
    converts that quote (the conversion is then shown on every opportunity).
    """
    configured = dict(taker_fee_bps or {})
    out: dict[str, list[Listing]] = {}
    for symbol in symbols:
        if "/" not in symbol:
            raise ArbitrageError(f"symbol {symbol!r} is not BASE/QUOTE, e.g. BTC/USDT")
        base, quote = symbol.split("/")[0], symbol.split("/")[1].split(":")[0]
        found = []
        for name, venue in venues.items():
            market = venue.markets.get(symbol)
            if market is None:
                market = _converted(venue, base, quote, rates)
            if market is None:
                others = sorted(s for s in venue.markets if s.split("/")[0] == base)[:5]
                hint = (f"it lists {', '.join(others)}; to compare through another quote pass --rate "
                        f"{others[0].split('/')[1]}/{quote}@VENUE") if others else "check the symbol"
                raise ArbitrageError(f"{symbol} is not listed on venue {name}: {hint}")
            found.append(Listing(venue=name, symbol=market["symbol"], market=market,
                                 taker_fee=taker_fee(name, market, configured)))
        out[symbol] = found
    return out


def _converted(venue: Venue, base: str, quote: str, rates: Sequence[RateSeries]) -> dict[str, Any] | None:
    for series in rates:
        for currency in series.symbol.split("/"):
            market = venue.markets.get(f"{base}/{currency}")
            if currency != quote and market is not None and series.converts(currency, quote):
                return market
    return None


def taker_fee(venue: str, market: Mapping[str, Any], configured: Mapping[str, Any]) -> Decimal:
    """Return the taker fee rate of `market` on `venue`: configured bps first, else ccxt's `taker`."""
    if venue in configured:
        try:
            bps = to_decimal(configured[venue])
        except (ValueError, ArithmeticError):
            raise ConfigError(f"taker fee for {venue} ({configured[venue]!r}) is not a number of bps") from None
        if not 0 <= bps < 10_000:
            raise ConfigError(f"taker fee for {venue} is {bps} bps: give a number of bps between 0 and 10000")
        return bps / Decimal(10_000)
    if market.get("taker") is None:
        raise ConfigError(f"venue {venue} gives no taker fee for {market.get('symbol')}: set it with "
                          f"--taker-fee-bps {venue}=10 or [arb.taker_fee_bps] in quantdesk.toml")
    return to_decimal(market["taker"])


def reported_withdraw_fees(venues: Mapping[str, Venue], network: str | None = None) -> tuple[dict, list[str]]:
    """Return (venue -> asset -> withdrawal fee, notes) from venues that report them to this client."""
    import ccxt

    found: dict[str, dict[str, Decimal]] = {}
    notes: list[str] = []
    for name, venue in venues.items():
        exchange = venue.exchange
        if not exchange.has.get("fetchDepositWithdrawFees"):
            notes.append(f"{name} does not report withdrawal fees: configure [arb.transfer_costs]")
            continue
        if not exchange.apiKey:
            notes.append(f"{name} reports withdrawal fees only to an API key: configure one, or [arb.transfer_costs]")
            continue
        try:
            found[name] = withdraw_fees(exchange.fetch_deposit_withdraw_fees(), network)
        except ccxt.BaseError as e:
            notes.append(f"{name} did not give withdrawal fees ({type(e).__name__}: {first_line(e)})")
    return found, notes


def fetch_books(venues: Mapping[str, Venue], needed: Iterable[tuple[str, str]], store: BookStore, *,
                limit: int | None = None, on_update: Callable[[str, str], None] | None = None) -> None:
    """Fetch each needed book by REST into `store`, one thread per venue; a failure refuses that book."""
    by_venue: dict[str, list[str]] = {}
    for venue, symbol in needed:
        by_venue.setdefault(venue, []).append(symbol)

    def one_venue(name: str, symbols: list[str]) -> None:
        for symbol in symbols:
            fetch_one(venues[name], symbol, store, limit=limit)
            if on_update is not None:
                on_update(name, symbol)

    threads = [threading.Thread(target=one_venue, args=item, name=f"arb-fetch-{item[0]}", daemon=True)
               for item in by_venue.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def fetch_one(venue: Venue, symbol: str, store: BookStore, *, limit: int | None = None) -> None:
    """Fetch one REST book into `store` (received when the answer arrived), or refuse it with the error."""
    import ccxt

    try:
        with venue.lock:
            book = venue.exchange.fetch_order_book(symbol, limit)
    except ccxt.BaseError as e:
        store.refuse(venue.name, symbol, f"fetch failed ({type(e).__name__}: {first_line(e)})")
        return
    store.put(venue.name, symbol, {"bids": book["bids"], "asks": book["asks"]}, nonce=book.get("nonce"))


class StreamFeed:
    """Follow books with ccxt pro `watch_order_book` in a background thread, into a BookStore.

    `on_update(venue, symbol)` is called (from the feed's thread) after each book is stored.
    """

    def __init__(self, needed: Sequence[tuple[str, str]], store: BookStore, *,
                 on_update: Callable[[str, str], None] | None = None, limit: int | None = None) -> None:
        self.needed, self.store, self.on_update, self.limit = list(needed), store, on_update, limit
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> StreamFeed:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="arb-streams", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    async def _run(self) -> None:
        from quantdesk.ingest.exchange import make_exchange

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        clients: dict[str, Any] = {}
        try:
            for venue in sorted({v for v, _ in self.needed}):
                client = make_exchange(venue, pro=True)
                # a gap must raise (ccxt then drops the book and the next watch starts from a new snapshot)
                client.options.setdefault("watchOrderBook", {})["checksum"] = True
                clients[venue] = client
            self._ready.set()
            tasks = [asyncio.create_task(self._follow(clients[v], v, s)) for v, s in self.needed]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        except QuantdeskError as e:
            self.errors.append(str(e))
            self._ready.set()
        finally:
            for client in clients.values():
                await client.close()

    async def _follow(self, client: Any, venue: str, symbol: str) -> None:
        import ccxt

        assert self._stop is not None
        while not self._stop.is_set():
            try:
                book = await client.watch_order_book(symbol, self.limit)
            except (ccxt.ChecksumError, ccxt.InvalidNonce) as e:
                self.store.refuse(venue, symbol, f"sequence gap in the stream ({first_line(e)}); waiting for a "
                                                 "new snapshot")
                continue
            except ccxt.BaseError as e:
                self.store.refuse(venue, symbol, f"stream failed ({type(e).__name__}: {first_line(e)})")
                await asyncio.sleep(0.5)
                continue
            self.store.put(venue, symbol, {"bids": [list(level[:2]) for level in book["bids"]],
                                           "asks": [list(level[:2]) for level in book["asks"]]},
                           nonce=book.get("nonce"))
            if self.on_update is not None:
                self.on_update(venue, symbol)
