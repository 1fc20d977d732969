"""The Binance spot WebSocket subset that ccxt pro's `watch_ohlcv`, `watch_trades` and
`watch_order_book` use, served from the venue's candles.

A client connects to `ws://HOST:PORT/stream/ws/<n>` and sends
`{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}`; the server answers
`{"result": null, "id": 1}`. Streams, in Binance's event formats, on the venue's clock:

* `<symbol>@kline_<interval>`: at each bar close the closed kline (`"x": true`), then the
  first update of the next, forming bar (`"x": false`);
* `<symbol>@trade`: when a base bar closes, its trades: four prints at the bar's open, its
  extreme nearer the open, the other extreme and its close (the path a bar most plausibly
  took), a quarter of the bar's volume each, stamped inside the bar. The venue keeps candles,
  not trades, so these are the trades a candle implies; their volume sums to the candle's;
* `<symbol>@depth` / `@depth@100ms`: diff-depth events for the book `GET depth` shows (by
  default one level, best bid and ask a tick around the current price; its depth, spread
  and offset follow the venue's `BookShape`): each event sets the levels that changed and
  zeroes those that went, at most every 100 ms while the venue's clock moves; update ids are the venue's clock in ms, continuous per subscription
  (`U` = previous `u` + 1), so a REST snapshot (`lastUpdateId` = its clock) splices in as
  Binance's "manage a local order book" recipe expects.

* the user data stream of the WebSocket API (`/ws-api/v3`, which ccxt pro's `watch_orders`,
  `watch_my_trades` and `watch_balance` use on spot): `userDataStream.subscribe.signature`
  with the account's API key, timestamp and HMAC signature (checked like a signed REST
  request), answered with a subscription id; from then on every order event of the account
  as an `executionReport` (`NEW`, each `TRADE`, `CANCELED`, `EXPIRED`) wrapped as
  `{"subscriptionId": 0, "event": {...}}`.

Faults, for tests: `drop()` closes every connection (a disconnect), `mute(True)` keeps
connections open but silent, `duplicate(True)` sends every event twice, `reorder(True)`
re-sends the previous closed kline after each new one (out of order) and `gap()` skips an
update id in the next depth event (a lost diff).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.core.timeframes import timeframe_ms
from quantdesk.venue.auth import is_fresh
from quantdesk.venue.payloads import decimal_text

__all__ = ["KlineStreams", "MarketStreams"]


@dataclass(slots=True)
class _Subscription:
    symbol: str  # unified, e.g. BTC/USDT
    market_id: str  # BTCUSDT
    interval: str
    interval_ms: int
    last_closed: int | None = None
    kind: str = "kline"  # kline | trade | depth
    last_update: int = 0  # depth: the last update id sent (the venue's clock in ms)
    book: tuple[dict[str, str], dict[str, str]] | None = None  # depth: bids and asks last sent (price -> qty)


@dataclass(slots=True)
class _UserStream:
    """What the account's user data stream has reported so far on one connection."""

    subscription_id: int
    seen: dict[int, tuple[str, Decimal, Decimal]]  # order id -> (status, executed qty, quote qty) reported
    trades: int  # engine trades already reported


@dataclass(slots=True, eq=False)  # identity: kept in a set
class _Connection:
    socket: Any
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    user: _UserStream | None = None


class MarketStreams:
    """Kline, trade and depth streams of a `SimulatedVenue` (its books and clock) on their own port."""

    def __init__(self, venue: Any, *, host: str = "127.0.0.1", port: int = 0, poll_s: float = 0.01) -> None:
        self.venue, self.host, self.port, self.poll_s = venue, host, port, poll_s
        self._ids = {spec.market_id: symbol for symbol, spec in venue.engine.specs.items()}
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: OSError | None = None
        self.muted = self.duplicated = self.reordered = self.gapped = False
        self.sent = 0
        self.connections_opened = 0
        self.user_refusals: list[int] = []  # error codes of refused user-data subscriptions

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> MarketStreams:
        """Listen (port 0: a free port) and serve in a background thread; OSError when the port is taken."""
        self._thread = threading.Thread(target=self._run, name="venue-streams", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the simulated venue's stream server did not start")
        if self._error is not None:
            self._thread.join(timeout=5)
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = self._loop = None

    def __enter__(self) -> MarketStreams:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to configure as the venue's `ws_url` (ccxt appends `/ws/<n>`)."""
        return f"ws://{self.host}:{self.port}/stream"

    # -- faults ----------------------------------------------------------------------------------
    def drop(self) -> None:
        """Close every connection now (clients see a disconnect)."""
        if self._loop is not None:
            for connection in list(self._connections):
                asyncio.run_coroutine_threadsafe(connection.socket.close(code=1001, reason="dropped"), self._loop)

    def mute(self, on: bool = True) -> None:
        self.muted = on

    def duplicate(self, on: bool = True) -> None:
        self.duplicated = on

    def reorder(self, on: bool = True) -> None:
        self.reordered = on

    def gap(self) -> None:
        """Skip one update id in the next depth event (a lost message): a client must refuse the book."""
        self.gapped = True

    # -- serving ---------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except OSError as e:  # the port is taken: start() raises it in the caller's thread
            self._error = e
            self._ready.set()
        finally:
            loop.close()  # its selector's sockets too

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._handle, self.host, self.port) as server:
            self.port = server.sockets[0].getsockname()[1] if self.port == 0 else self.port
            self._ready.set()
            ticker = asyncio.create_task(self._tick())
            await self._stop.wait()
            ticker.cancel()

    async def _handle(self, socket: Any) -> None:
        connection = _Connection(socket)
        self._connections.add(connection)
        self.connections_opened += 1
        try:
            async for raw in socket:
                try:
                    message = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if message.get("method") == "userDataStream.subscribe.signature":
                    await socket.send(json.dumps(self._subscribe_user(connection, message)))
                    continue
                if message.get("method") == "SUBSCRIBE":
                    for stream in message.get("params", []):
                        sub = self._subscription(stream)
                        if sub is not None:
                            connection.subscriptions[stream] = sub
                    await socket.send(json.dumps({"result": None, "id": message.get("id")}))
                elif message.get("method") == "UNSUBSCRIBE":
                    for stream in message.get("params", []):
                        connection.subscriptions.pop(stream, None)
                    await socket.send(json.dumps({"result": None, "id": message.get("id")}))
        except Exception:  # noqa: BLE001 - a dropped connection ends here
            pass
        finally:
            self._connections.discard(connection)

    def _subscription(self, stream: str) -> _Subscription | None:
        market, _, kind = stream.partition("@")
        symbol = self._ids.get(market.upper())
        if symbol is None:
            return None
        now = self.venue.clock.now_ms()
        base_ms = self.venue.engine.books[symbol].timeframe_ms
        if kind == "trade":
            return _Subscription(symbol=symbol, market_id=market.upper(), interval="", interval_ms=base_ms,
                                 last_closed=now - now % base_ms - base_ms, kind="trade")
        if kind in ("depth", "depth@100ms"):
            return _Subscription(symbol=symbol, market_id=market.upper(), interval="", interval_ms=base_ms,
                                 kind="depth", last_update=now, book=self._best(symbol, now))
        if not kind.startswith("kline_"):
            return None
        interval = kind.removeprefix("kline_")
        step = timeframe_ms(interval)
        # the newest bar closed before the subscription: streaming starts with the next close
        return _Subscription(symbol=symbol, market_id=market.upper(), interval=interval, interval_ms=step,
                             last_closed=now - now % step - step)

    def _kline(self, sub: _Subscription, bar_ms: int, now_ms: int, *, closed: bool) -> dict[str, Any] | None:
        rows = self.venue.engine.books[sub.symbol].klines(now_ms, sub.interval_ms, bar_ms, bar_ms + sub.interval_ms - 1, 1)
        if not rows or rows[0][0] != bar_ms:
            return None
        ts, o, h, lo, c, v = rows[0]
        return {"e": "kline", "E": now_ms, "s": sub.market_id, "k": {
            "t": ts, "T": ts + sub.interval_ms - 1, "s": sub.market_id, "i": sub.interval, "f": 0, "L": 0,
            "o": repr(float(o)), "c": repr(float(c)), "h": repr(float(h)), "l": repr(float(lo)), "v": repr(float(v)),
            "n": 0, "x": closed, "q": repr(float(v * c)), "V": "0", "Q": "0", "B": "0"}}

    async def _send(self, connection: _Connection, event: dict[str, Any]) -> None:
        text = json.dumps(event)
        for _ in range(2 if self.duplicated else 1):
            await connection.socket.send(text)
            self.sent += 1

    # -- user data stream ----------------------------------------------------------------------
    def _subscribe_user(self, connection: _Connection, message: dict[str, Any]) -> dict[str, Any]:
        """Check the signed subscription like a signed REST request; start reporting the account's orders."""
        params = dict(message.get("params") or {})
        signature = str(params.pop("signature", ""))
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        expected = hmac.new(self.venue.api.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        stamp, window = str(params.get("timestamp", "")), str(params.get("recvWindow", "5000"))
        refusal = None
        if params.get("apiKey") != self.venue.api.api_key:
            refusal = (401, -2015, "Invalid API-key, IP, or permissions for action.")
        elif not hmac.compare_digest(signature, expected):
            refusal = (400, -1022, "Signature for this request is not valid.")
        elif not (stamp.isdigit() and window.isdigit()
                  and is_fresh(int(stamp), int(window), self.venue.wall_clock.now_ms(), self.venue.clock.now_ms())):
            refusal = (400, -1021, "Timestamp for this request is outside of the recvWindow.")
        if refusal is not None:
            self.user_refusals.append(refusal[1])
            return {"id": message.get("id"), "status": refusal[0], "error": {"code": refusal[1], "msg": refusal[2]}}
        with self.venue.lock:
            seen = {o.order_id: (o.status.value, o.executed_qty, o.cumulative_quote_qty)
                    for o in self.venue.engine.orders.values()}
            connection.user = _UserStream(subscription_id=0, seen=seen, trades=len(self.venue.engine.trades))
        return {"id": message.get("id"), "status": 200, "result": {"subscriptionId": 0}}

    def _user_events(self, user: _UserStream, now_ms: int) -> list[dict[str, Any]]:
        """The account's order events since the last call, in the order they happened."""
        engine = self.venue.engine
        with self.venue.lock:
            engine.sync(now_ms)  # resting orders that the clock has filled
            orders = dict(engine.orders)
            trades = engine.trades[user.trades:]
            user.trades = len(engine.trades)
            events = []
            for order in orders.values():  # placed since the last call: NEW first, as Binance sends it
                if order.order_id not in user.seen:
                    user.seen[order.order_id] = ("NEW", Decimal(0), Decimal(0))
                    events.append(_execution_report(order, "NEW", "NEW", Decimal(0), Decimal(0), None, now_ms))
            for trade in trades:
                order = orders[trade.order_id]
                _, done, quote = user.seen[order.order_id]
                done, quote = done + trade.qty, quote + trade.quote_qty
                status = "FILLED" if done >= order.orig_qty else "PARTIALLY_FILLED"
                user.seen[order.order_id] = (status, done, quote)
                events.append(_execution_report(order, "TRADE", status, done, quote, trade, now_ms))
            for order in orders.values():  # canceled or expired since
                status, done, quote = user.seen[order.order_id]
                if order.status.value != status and order.status.value in ("CANCELED", "EXPIRED"):
                    user.seen[order.order_id] = (order.status.value, done, quote)
                    events.append(_execution_report(order, order.status.value, order.status.value, done, quote,
                                                    None, now_ms))
        return [{"subscriptionId": user.subscription_id, "event": e} for e in events]

    def _best(self, symbol: str, now_ms: int) -> tuple[dict[str, str], dict[str, str]]:
        """The bids and asks `GET depth` shows at `now_ms` (price text -> quantity text)."""
        bids, asks = self.venue.api.book(symbol, now_ms)
        return ({decimal_text(p): decimal_text(q) for p, q in bids},
                {decimal_text(p): decimal_text(q) for p, q in asks})

    def _trades(self, sub: _Subscription, bar_ms: int, now_ms: int) -> list[dict[str, Any]]:
        book = self.venue.engine.books[sub.symbol]
        rows = book.klines(now_ms, sub.interval_ms, bar_ms, bar_ms + sub.interval_ms - 1, 1)
        if not rows or rows[0][0] != bar_ms or rows[0][5] <= 0:
            return []
        _, o, h, lo, c, v = rows[0]
        path = (o, lo, h, c) if o - lo < h - o else (o, h, lo, c)  # the nearer extreme first
        first_id = (bar_ms // sub.interval_ms) * 4
        out, previous = [], o
        for k, price in enumerate(path):
            out.append({"e": "trade", "E": now_ms, "s": sub.market_id, "t": first_id + k, "p": repr(float(price)),
                        "q": repr(float(v) / 4), "T": bar_ms + k * (sub.interval_ms // 4),
                        "m": bool(price < previous), "M": True})
            previous = price
        return out

    async def _depth(self, connection: _Connection, sub: _Subscription, now_ms: int) -> None:
        if now_ms <= sub.last_update or now_ms - sub.last_update < 100:  # Binance's 100 ms cadence
            return
        book = self._best(sub.symbol, now_ms)
        old_bids, old_asks = sub.book or ({}, {})
        changes = [[[p, q] for p, q in new.items() if old.get(p) != q] + [[p, "0"] for p in old if p not in new]
                   for new, old in ((book[0], old_bids), (book[1], old_asks))]
        first = sub.last_update + (2 if self.gapped else 1)  # a gap fault skips an update id
        self.gapped = False
        event = {"e": "depthUpdate", "E": now_ms, "s": sub.market_id, "U": first, "u": now_ms,
                 "b": changes[0], "a": changes[1]}
        sub.last_update, sub.book = now_ms, book
        if not self.muted:
            await self._send(connection, event)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            now = self.venue.clock.now_ms()
            for connection in list(self._connections):
                if connection.user is not None and not self.muted:
                    with contextlib.suppress(Exception):  # the connection went away meanwhile
                        for event in self._user_events(connection.user, now):
                            await self._send(connection, event)
                for sub in list(connection.subscriptions.values()):  # a SUBSCRIBE may land mid-loop
                    if sub.kind == "depth":
                        with contextlib.suppress(Exception):  # the connection went away meanwhile
                            await self._depth(connection, sub, now)
                        continue
                    newest_closed = now - now % sub.interval_ms - sub.interval_ms
                    if sub.last_closed is not None and newest_closed <= sub.last_closed:
                        continue
                    start = newest_closed if sub.last_closed is None else sub.last_closed + sub.interval_ms
                    previous = sub.last_closed
                    sub.last_closed = newest_closed
                    if self.muted:
                        continue
                    try:
                        if sub.kind == "trade":
                            for bar in range(start, newest_closed + 1, sub.interval_ms):
                                for trade in self._trades(sub, bar, now):
                                    await self._send(connection, trade)
                            continue
                        for bar in range(start, newest_closed + 1, sub.interval_ms):
                            closed = self._kline(sub, bar, now, closed=True)
                            if closed is not None:
                                await self._send(connection, closed)
                            if self.reordered and previous is not None:
                                stale = self._kline(sub, previous, now, closed=True)
                                if stale is not None:
                                    await self._send(connection, stale)
                            previous = bar
                        forming = self._kline(sub, newest_closed + sub.interval_ms, now, closed=False)
                        if forming is not None:
                            await self._send(connection, forming)
                    except Exception:  # noqa: BLE001 - the connection went away meanwhile
                        continue


def _execution_report(order: Any, execution: str, status: str, done: Decimal, quote: Decimal, trade: Any,
                      now_ms: int) -> dict[str, Any]:
    """Binance's `executionReport` for one order event."""
    market_id = order.symbol.replace("/", "")
    return {
        "e": "executionReport", "E": now_ms, "s": market_id, "c": order.client_order_id, "S": order.side,
        "o": order.type, "f": order.time_in_force or "GTC", "q": decimal_text(order.orig_qty),
        "p": decimal_text(order.price), "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "",
        "x": execution, "X": status, "r": "NONE", "i": order.order_id,
        "l": decimal_text(trade.qty) if trade else "0.00000000",
        "z": decimal_text(done), "L": decimal_text(trade.price) if trade else "0.00000000",
        "n": decimal_text(trade.commission) if trade else "0", "N": trade.commission_asset if trade else None,
        "T": trade.time_ms if trade else order.update_time_ms, "t": trade.trade_id if trade else -1,
        "I": 0, "w": status in ("NEW", "PARTIALLY_FILLED"), "m": bool(trade.is_maker) if trade else False,
        "M": False, "O": order.time_ms, "Z": decimal_text(quote),
        "Y": decimal_text(trade.quote_qty) if trade else "0.00000000", "Q": "0.00000000",
        "W": order.time_ms, "V": "NONE",
    }


KlineStreams = MarketStreams  # the name it had when it served klines only
