"""Closed candles from a venue's WebSocket stream into the lake (ccxt pro `watch_ohlcv_for_symbols`).

`CandleStream.run` connects, backfills through REST from the newest stored candle (the same
`quantdesk.ingest` that `quantdesk ingest` uses), then writes each bar as it closes. A bar is
closed when a newer bar has arrived for its symbol; bars are written once (by open time: a
duplicated or out-of-order message changes nothing, the lake's upsert makes it idempotent).
A jump in open times is a gap: filled from REST before the new bar is written. A stream that
goes quiet for `stale_bars` bars is a stale event: the connection is dropped, reopened and
backfilled; so is a disconnect. The result: the lake holds exactly what REST ingestion stores.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantdesk.core.timeframes import timeframe_ms

__all__ = ["CandleStream", "StreamReport", "StreamedCandles", "make_pro_exchange"]

log = logging.getLogger(__name__)


def make_pro_exchange(venue: str) -> Any:
    """Return the async ccxt pro client of venue `venue` (quantdesk.toml name or ccxt id), as `make_exchange` builds it."""
    from quantdesk.ingest.exchange import make_exchange

    return make_exchange(venue, pro=True)


@dataclass(slots=True)
class StreamReport:
    """What a stream did: bars written per symbol, reconnects, REST backfills and stale events."""

    written: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    backfills: int = 0
    stale_events: int = 0
    messages: int = 0


class CandleStream:
    """Stream closed `timeframe` candles of `symbols` from `venue` into the lake (see the module doc)."""

    def __init__(self, venue: str, symbols: list[str], timeframe: str = "1m", *, lake: Any = None,
                 since: str | None = None, stale_bars: float = 3.0, clock: Any = None,
                 on_bar: Callable[[str, int], None] | None = None, wall_stale_s: float | None = None,
                 sink: Callable[[str, list[list[Any]]], None] | None = None, backfill: bool = True) -> None:
        from quantdesk.core.clock import SystemClock
        from quantdesk.ingest.exchange import resolve_venue
        from quantdesk.lake import Lake

        self.venue, self.symbols, self.timeframe = venue, list(symbols), timeframe
        self.name, _ = resolve_venue(venue)
        self.step = timeframe_ms(timeframe)
        self.lake = lake or Lake()
        self.clock = clock or SystemClock()
        self.since = since
        self.on_bar = on_bar
        # quiet for this long (wall seconds) is stale; a scaled market clock shortens it in rehearsals
        self.stale_s = wall_stale_s if wall_stale_s is not None else stale_bars * self.step / 1000
        self.report = StreamReport(written={s: 0 for s in self.symbols})
        self.sink = sink  # None: write to the lake; else hand closed rows over (the live runner's memory)
        self.backfill = backfill
        self._last: dict[str, int | None] = {}

    def _stored(self, symbol: str) -> int | None:
        from quantdesk.ingest.service import last_stored_ms

        return last_stored_ms(self.lake, self.name, symbol, self.timeframe)

    def _backfill(self) -> None:
        """REST from the newest stored candle up to the last closed bar (what `quantdesk ingest` does)."""
        from quantdesk.ingest import ingest

        if not self.backfill:  # the consumer fills gaps itself (StreamedCandles asks REST for what is missing)
            return
        since = self.since or _iso(self.clock.now_ms() - 100 * self.step)
        ingest(self.venue, self.symbols, self.timeframe, since, lake=self.lake, clock=self.clock)
        self.report.backfills += 1
        for symbol in self.symbols:
            self._last[symbol] = self._stored(symbol)

    def _write(self, symbol: str, rows: list[list[Any]]) -> None:
        from quantdesk.ingest.fetch import ohlcv_to_frame

        if self.sink is not None:
            self.sink(symbol, rows)
        else:
            self.lake.write(ohlcv_to_frame(rows), exchange=self.name, symbol=symbol, timeframe=self.timeframe)
        self._last[symbol] = int(rows[-1][0])
        self.report.written[symbol] += len(rows)
        if self.on_bar is not None:
            for row in rows:
                self.on_bar(symbol, int(row[0]))

    def _closed(self, client: Any, symbol: str) -> list[list[Any]]:
        cache = (client.ohlcvs.get(symbol) or {}).get(self.timeframe) or []
        if len(cache) < 2:
            return []
        newest = max(int(row[0]) for row in cache)
        last = self._last.get(symbol)
        rows = {int(r[0]): list(r) for r in cache if int(r[0]) < newest and (last is None or int(r[0]) > last)}
        return [rows[ts] for ts in sorted(rows)]

    async def _session(self, stop: threading.Event, max_bars: int | None) -> bool:
        """One connection: backfill, then stream until stopped, stale or disconnected; True when done."""
        client = make_pro_exchange(self.venue)
        try:
            await asyncio.to_thread(self._backfill)
            wanted = [[s, self.timeframe] for s in self.symbols]
            while not stop.is_set():
                try:
                    await asyncio.wait_for(client.watch_ohlcv_for_symbols(wanted), timeout=self.stale_s)
                except TimeoutError:
                    self.report.stale_events += 1
                    log.warning("the %s stream of %s was quiet for %.1f s: reconnecting and backfilling",
                                self.timeframe, self.name, self.stale_s)
                    return False
                self.report.messages += 1
                for symbol in self.symbols:
                    rows = self._closed(client, symbol)
                    if not rows:
                        continue
                    last = self._last.get(symbol)
                    if self.backfill and last is not None and int(rows[0][0]) > last + self.step:  # a gap: REST first
                        await asyncio.to_thread(self._backfill)
                        rows = [r for r in rows if int(r[0]) > (self._last.get(symbol) or -1)]
                        if not rows:
                            continue
                    self._write(symbol, rows)
                if max_bars is not None and all(n >= max_bars for n in self.report.written.values()):
                    return True
            return True
        finally:
            await client.close()

    def run(self, *, stop: threading.Event | None = None, max_bars: int | None = None,
            max_reconnects: int = 1000) -> StreamReport:
        """Stream until `stop` is set or every symbol got `max_bars` new bars; reconnect on failures."""
        stop = stop or threading.Event()

        async def main() -> None:
            delay = 0.2
            while not stop.is_set():
                try:
                    if await self._session(stop, max_bars):
                        return
                except Exception as e:  # noqa: BLE001 - a dropped socket or network error: reconnect
                    log.warning("the %s stream broke (%s: %s); reconnecting", self.name, type(e).__name__, e)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                self.report.reconnects += 1
                if self.report.reconnects > max_reconnects:
                    raise RuntimeError(f"gave up after {max_reconnects} reconnects to {self.name}")

        asyncio.run(main())
        return self.report


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")



class StreamedCandles:
    """The live runner's updater fed by the venue's stream (`quantdesk run --stream`).

    Same interface as `VenueCandles` (`fetch(symbol, since_ms, until_ms)`): a bar close is
    answered from the bars the stream delivered, waiting up to `wait_s` for the one that just
    closed; anything the stream does not hold (history on the first call, a gap after a
    reconnect, a silent stream) comes from REST through `VenueCandles`, so the runner sees the
    same rows either way. When neither answers, the runner's stale-data rule fails closed.
    """

    def __init__(self, venue: str, rest: Any, *, symbols: list[str], timeframe: str, clock: Any,
                 wait_s: float = 2.0, stale_s: float | None = None) -> None:
        self.rest, self.clock, self.wait_s = rest, clock, wait_s
        self.history_bars = rest.history_bars  # what LakeMarket asks of an updater, as of VenueCandles
        self.step = timeframe_ms(timeframe)
        self._rows: dict[str, dict[int, list[Any]]] = {s: {} for s in symbols}
        self._cond = threading.Condition()
        self.from_stream = self.from_rest = 0
        self._stop = threading.Event()
        self.stream = CandleStream(venue, symbols, timeframe, clock=clock, sink=self._receive, backfill=False,
                                   wall_stale_s=stale_s)
        self._thread = threading.Thread(target=self._run, name=f"stream:{venue}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.stream.run(stop=self._stop)
        except Exception:  # noqa: BLE001 - the runner falls back to REST; the log says why
            log.exception("the candle stream stopped; bar closes come from REST polling")

    def _receive(self, symbol: str, rows: list[list[Any]]) -> None:
        with self._cond:
            held = self._rows[symbol]
            for row in rows:
                held[int(row[0])] = row
            while len(held) > 5000:  # memory for a few days of 1m bars; the lake keeps everything
                held.pop(min(held))
            self._cond.notify_all()

    def fetch(self, symbol: str, since_ms: int, until_ms: int) -> Any:
        """Return closed rows in [since_ms, until_ms): from the stream when it holds them all, else REST."""
        import numpy as np

        now = self.clock.now_ms()
        last_needed = min(until_ms, now - now % self.step) - self.step
        wanted = range(since_ms - since_ms % self.step + (self.step if since_ms % self.step else 0),
                       last_needed + 1, self.step)
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while last_needed not in self._rows[symbol] and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            held = self._rows[symbol]
            if len(wanted) and all(ts in held for ts in wanted):
                rows = np.array([held[ts] for ts in wanted], dtype=float)
                self.from_stream += 1
                return rows[:, 0].copy(), np.ascontiguousarray(rows[:, 1:6].T)
        self.from_rest += 1
        return self.rest.fetch(symbol, since_ms, until_ms)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
