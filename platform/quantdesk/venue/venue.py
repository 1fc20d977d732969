"""`SimulatedVenue`: a local Binance-compatible REST server for the real ccxt client.

    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start)) as venue:
        exchange = binance_client(venue)
        exchange.fetch_ohlcv("BTC/USDT", "1m")
        venue.inject(FaultKind.RATE_LIMIT, endpoint="klines", retry_after_s=2)
        venue.advance(to=start + timedelta(minutes=5))

Two clocks: `clock` is market time (candles, matching, order times, and the server time of
`/api/v3/time`, so a client that follows the venue's time sees its bars close) and only
moves when told; `wall_clock` (system time by default) checks signed requests' timestamps,
because ccxt signs with its own wall clock (a timestamp fresh on the market clock passes
too: `quantdesk.venue.auth`).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from quantdesk.core.clock import Clock, ManualClock, SystemClock, ensure_utc
from quantdesk.core.errors import DataError, VenueError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.venue.api import BinanceApi
from quantdesk.venue.auth import TEST_API_KEY, TEST_API_SECRET
from quantdesk.venue.book_shape import BookShape
from quantdesk.venue.engine import MatchingEngine
from quantdesk.venue.faults import Fault, FaultBook, FaultKind
from quantdesk.venue.market import CandleBook, MarketSpec
from quantdesk.venue.orders import FillPolicy, SimOrder, SimTrade
from quantdesk.venue.perpetuals import Perpetual
from quantdesk.venue.server import Answer, RequestRecord, VenueHttpServer, error_answer, json_answer

__all__ = ["DEFAULT_QUOTE_BALANCE", "SimulatedVenue"]

DEFAULT_QUOTE_BALANCE = 100_000.0


class SimulatedVenue:
    """A Binance spot venue on 127.0.0.1 fed by candles, with a matching engine and faults."""

    def __init__(
        self,
        candles: Mapping[str, Any],
        *,
        clock: ManualClock | None = None,
        timeframe: str = "1m",
        balances: Mapping[str, float | str | Decimal] | None = None,
        specs: Mapping[str, MarketSpec] | None = None,
        policy: FillPolicy | None = None,
        api_key: str = TEST_API_KEY,
        api_secret: str = TEST_API_SECRET,
        wall_clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        perpetuals: Mapping[str, Mapping[str, Any]] | None = None,
        futures_balance: float | str | Decimal = DEFAULT_QUOTE_BALANCE,
        book_shape: BookShape | None = None,
        withdraw_fees: Mapping[str, Decimal | str | float] | None = None,
    ) -> None:
        """Build the venue from candle-contract frames per unified symbol.

        Without `clock`, market time starts one bar after the last candle, so every
        candle is closed and visible. Without `balances`, the account holds
        100 000 of each quote asset and nothing else. Call `start()` (or use `with`).
        `perpetuals` adds USDⓈ-M market data (ccxt `binanceusdm`): per swap symbol
        (`XRP/USDT:USDT`) a mapping with `candles` and optionally `mark` and `funding`
        (`ts, rate`); see `quantdesk.venue.perpetuals`. They trade on a USDⓈ-M account
        (`quantdesk.venue.usdm_account`) whose wallet starts at `futures_balance` USDT.
        `book_shape` shapes the order book it shows (depth, spread, price offset; see
        `quantdesk.venue.book_shape`); `withdraw_fees` (asset -> fee) is what
        `fetch_deposit_withdraw_fees` reports.
        """
        if not candles:
            raise DataError(
                "SimulatedVenue needs candles for at least one symbol, e.g. {'BTC/USDT': frame}"
            )
        tf_ms = timeframe_ms(timeframe)
        books = {symbol: CandleBook(frame, tf_ms) for symbol, frame in candles.items()}
        empty = [s for s, b in books.items() if len(b) == 0]
        if empty:
            raise DataError(
                f"no candles for {empty}: load or generate data first (quantdesk sample)"
            )
        specs = dict(specs or {})
        for symbol, book in books.items():
            specs.setdefault(symbol, MarketSpec.for_price(symbol, float(book.close[-1])))
        if balances is None:
            balances = {spec.quote: DEFAULT_QUOTE_BALANCE for spec in specs.values()}
        self.clock = clock or ManualClock(max(int(b.ts[-1]) for b in books.values()) + tf_ms)
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.engine = MatchingEngine(books, specs, balances, policy)
        self.api = BinanceApi(
            self.engine,
            clock=self.clock,
            wall_clock=self.wall_clock,
            api_key=api_key,
            api_secret=api_secret,
            perpetuals={sym: Perpetual.build(sym, d["candles"], d.get("mark"), d.get("funding"))
                        for sym, d in (perpetuals or {}).items()},
            futures_wallet=futures_balance,
            book_shape=book_shape,
            withdraw_fees={asset: Decimal(str(fee)) for asset, fee in (withdraw_fees or {}).items()},
        )
        self.api_key = api_key
        self.faults = FaultBook()
        self.lock = threading.RLock()
        self.request_log: list[RequestRecord] = []
        self.internal_errors: list[Exception] = []
        self._host, self._port = host, port
        self._server: VenueHttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> SimulatedVenue:
        """Bind (port 0: an ephemeral port) and serve in a background thread."""
        if self._server is not None:
            return self
        try:
            self._server = VenueHttpServer(self, self._host, self._port)
        except OSError as e:
            raise VenueError(
                f"cannot listen on {self._host}:{self._port} ({e.strerror}): choose another --port"
            ) from e
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="simulated-venue", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; sleeping requests wake up and end."""
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SimulatedVenue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Return the base URL (``http://127.0.0.1:PORT``); the venue must be started."""
        if self._server is None:
            raise VenueError(
                "the simulated venue is not running: call start() or use it in a with block"
            )
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- control ------------------------------------------------------------------------

    def inject(
        self,
        kind: FaultKind | str,
        endpoint: str | None = None,
        *,
        method: str | None = None,
        times: int = 1,
        retry_after_s: int = 1,
        status: int = 500,
        delay_s: float = 2.0,
    ) -> Fault:
        """Arm a fault for the next `times` requests to `endpoint` (e.g. "klines", "order")."""
        fault = Fault(
            kind=FaultKind(kind),
            endpoint=endpoint,
            method=method,
            times=times,
            retry_after_s=retry_after_s,
            status=status,
            delay_s=delay_s,
        )
        self.faults.arm(fault)
        return fault

    def set_book(self, shape: BookShape | None = None, **changes: Any) -> BookShape:
        """Show another book from now on: a new `BookShape`, or changes to the current one (`price_offset_bps=0`)."""
        with self.lock:
            self.api.book_shape = (shape or self.api.book_shape).updated(changes) if changes else (
                shape or self.api.book_shape)
            return self.api.book_shape

    def set_fill_policy(self, policy: FillPolicy) -> None:
        """Change how resting limit orders fill from now on (partial fills)."""
        with self.lock:
            self.engine.policy = policy

    def advance(
        self, to: datetime | int | None = None, *, by: timedelta | int | None = None
    ) -> list[SimTrade]:
        """Move market time forward (to a time, or by a delta) and match bar by bar; return the new fills."""
        if (to is None) == (by is None):
            raise ValueError("advance() takes exactly one of to= or by=")
        with self.lock:
            if to is not None:
                self.clock.set(to if isinstance(to, int) else ensure_utc(to))
            else:
                self.clock.advance(by)
            return self.engine.sync(self.clock.now_ms())

    # -- inspection ---------------------------------------------------------------------

    def request_count(self, endpoint: str | None = None, method: str | None = None) -> int:
        """Count received requests, optionally to one endpoint ("klines") and/or method."""
        probe = Fault(kind=FaultKind.TIMEOUT, endpoint=endpoint, method=method)
        with self.lock:
            return sum(1 for r in self.request_log if probe.matches(r.method, r.path))

    def request_counts(self) -> Counter[str]:
        """Return counts per "METHOD /path"."""
        with self.lock:
            return Counter(f"{r.method} {r.path}" for r in self.request_log)

    def orders(self, symbol: str | None = None) -> list[SimOrder]:
        """Return every order the venue holds (open and closed), oldest first."""
        with self.lock:
            return [o for o in self.engine.orders.values() if symbol is None or o.symbol == symbol]

    def trades(self, symbol: str | None = None) -> list[SimTrade]:
        """Return every fill, oldest first."""
        with self.lock:
            return [t for t in self.engine.trades if symbol is None or t.symbol == symbol]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Return (free, locked) per asset."""
        with self.lock:
            return {
                a: (self.engine.free[a], self.engine.locked[a]) for a in sorted(self.engine.free)
            }

    # -- server callbacks -----------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self.request_log.append(record)

    def admin(self, method: str, path: str, body: str) -> Answer:
        """Serve `/_admin/...`: faults, advance, requests, state (for a CLI-run venue)."""
        try:
            data = json.loads(body) if body else {}
            match method, path.removeprefix("/_admin/").strip("/"):
                case "POST", "faults":
                    return json_answer(200, {"armed": str(self.inject(**data))})
                case "DELETE", "faults":
                    self.faults.clear()
                    return json_answer(200, {"armed": 0})
                case "POST", "book":
                    shape = self.set_book(**data)
                    return json_answer(200, {"levels": shape.levels, "spread_bps": _text(shape.spread_bps),
                                             "price_offset_bps": str(shape.price_offset_bps),
                                             "symbol_offsets_bps": {k: str(v) for k, v in
                                                                    shape.symbol_offsets_bps.items()}})
                case "POST", "advance":
                    fills = self.advance(to=data.get("to_ms"), by=data.get("by_ms"))
                    return json_answer(200, {"now_ms": self.clock.now_ms(), "fills": len(fills)})
                case "GET", "requests":
                    return json_answer(200, dict(self.request_counts()))
                case "GET", "state":
                    return json_answer(
                        200,
                        {
                            "now_ms": self.clock.now_ms(),
                            "balances": {
                                a: [str(f), str(lk)] for a, (f, lk) in self.balances().items()
                            },
                            "orders": len(self.orders()),
                            "trades": len(self.trades()),
                        },
                    )
        except (TypeError, ValueError) as e:
            return error_answer(-1100, f"bad admin request: {e}", 400)
        return error_answer(-1000, f"no admin endpoint {method} {path}", 404)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
