"""The Binance spot WebSocket subset that ccxt pro's `watch_ohlcv` uses, served from the venue's candles.

A client connects to `ws://HOST:PORT/stream/ws/<n>` and sends
`{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}`; the server answers
`{"result": null, "id": 1}` and from then on, at each bar close on the venue's clock, sends the
closed kline (`"x": true`) followed by the first update of the next, forming bar (`"x": false`),
in Binance's event format. Faults, for tests: `drop()` closes every connection (a disconnect),
`mute(True)` keeps connections open but silent, `duplicate(True)` sends every event twice and
`reorder(True)` re-sends the previous closed kline after each new one (out of order).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from quantdesk.core.timeframes import timeframe_ms

__all__ = ["KlineStreams"]


@dataclass(slots=True)
class _Subscription:
    symbol: str  # unified, e.g. BTC/USDT
    market_id: str  # BTCUSDT
    interval: str
    interval_ms: int
    last_closed: int | None = None


@dataclass(slots=True, eq=False)  # identity: kept in a set
class _Connection:
    socket: Any
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)


class KlineStreams:
    """Kline streams of a `SimulatedVenue` (its books and clock) on their own port, in a background thread."""

    def __init__(self, venue: Any, *, host: str = "127.0.0.1", port: int = 0, poll_s: float = 0.01) -> None:
        self.venue, self.host, self.port, self.poll_s = venue, host, port, poll_s
        self._ids = {spec.market_id: symbol for symbol, spec in venue.engine.specs.items()}
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.muted = self.duplicated = self.reordered = False
        self.sent = 0
        self.connections_opened = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> KlineStreams:
        self._thread = threading.Thread(target=self._run, name="venue-streams", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the simulated venue's stream server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = self._loop = None

    def __enter__(self) -> KlineStreams:
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

    # -- serving ---------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
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
        if not kind.startswith("kline_"):
            return None
        symbol = self._ids.get(market.upper())
        interval = kind.removeprefix("kline_")
        if symbol is None:
            return None
        step = timeframe_ms(interval)
        now = self.venue.clock.now_ms()
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

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            now = self.venue.clock.now_ms()
            for connection in list(self._connections):
                for sub in connection.subscriptions.values():
                    newest_closed = now - now % sub.interval_ms - sub.interval_ms
                    if sub.last_closed is not None and newest_closed <= sub.last_closed:
                        continue
                    start = newest_closed if sub.last_closed is None else sub.last_closed + sub.interval_ms
                    previous = sub.last_closed
                    sub.last_closed = newest_closed
                    if self.muted:
                        continue
                    try:
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
