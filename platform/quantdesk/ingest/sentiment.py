"""`ingest_sentiment()`: a perpetual's market sentiment and money flow through ccxt into the lake's series.

Three kinds, each stored as numeric series of (exchange, symbol) (`quantdesk.lake.series`):

- open interest, `fetch_open_interest_history`: `open_interest` (contracts, base units) and
  `open_interest_value` (quote);
- the long/short account ratio, `fetch_long_short_ratio_history`: `long_short_ratio`;
- taker volume, from the exchange's klines (Binance's fields 9-10, which ccxt's `fetch_ohlcv`
  drops, so they are read through ccxt's raw `fapiPublicGetKlines`): `taker_buy_volume_<tf>`,
  `taker_sell_volume_<tf>` and `taker_buy_share_<tf>` (buy / volume, bars with volume only).

Each request asks a window that holds at most one page (`since` .. `until`), so every reading of
Binance's window rules returns the same points; each page is written as it arrives, and a rerun
starts after the newest stored point, as candle and funding ingest do. Binance keeps the
statistics (open interest, ratios) for the last 30 days only and offers them in periods of 5m to
1d: the window starts at most 30 days before the exchange's time (the report says so), and a
timeframe below 5m asks 5m statistics. "Now" is the earlier of the clock and the exchange's server
time, so a simulated venue's market clock bounds what is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ccxt
import polars as pl

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ConfigError, IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.core.timeframes import parse_time, timeframe_ms
from quantdesk.ingest.fetch import RetryPolicy, call_with_retries, find_market
from quantdesk.ingest.service import _client, _dt, _ms

__all__ = [
    "LONG_SHORT_RATIO",
    "OPEN_INTEREST",
    "OPEN_INTEREST_VALUE",
    "SentimentIngestReport",
    "ingest_sentiment",
    "stat_period",
    "taker_series",
]

OPEN_INTEREST = "open_interest"
OPEN_INTEREST_VALUE = "open_interest_value"
LONG_SHORT_RATIO = "long_short_ratio"
STAT_PAGE = 500  # Binance's maximum for futures/data statistics
KLINE_PAGE = 1500  # and for USDⓈ-M klines
STAT_HISTORY_MS = 30 * 86_400_000
_STAT_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")


def taker_series(timeframe: str) -> tuple[str, str, str]:
    """Return the series names of taker buy volume, sell volume and buy share at `timeframe`."""
    return f"taker_buy_volume_{timeframe}", f"taker_sell_volume_{timeframe}", f"taker_buy_share_{timeframe}"


def stat_period(timeframe: str) -> str:
    """Return the statistics period for a candle timeframe: the longest of Binance's periods that divides it."""
    tf = timeframe_ms(timeframe)
    fitting = [p for p in _STAT_PERIODS if timeframe_ms(p) <= tf and tf % timeframe_ms(p) == 0]
    return fitting[-1] if fitting else "5m"


@dataclass(frozen=True, slots=True, kw_only=True)
class SentimentIngestReport:
    """What one kind of sentiment ingest did for one symbol."""

    exchange: str
    symbol: str
    kind: str  # open_interest | long_short_ratio | taker_volume
    series: tuple[str, ...]
    period: str
    resumed_from: datetime | None
    pages: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    first_ts: datetime | None
    last_ts: datetime | None
    note: str | None = None


@dataclass(slots=True)
class _Tally:
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    first: int | None = None
    last: int | None = None

    def add(self, written: Any, ts: list[int]) -> None:
        self.pages += 1
        self.fetched += len(ts)
        self.inserted, self.updated, self.unchanged = (self.inserted + written.inserted,
                                                       self.updated + written.updated,
                                                       self.unchanged + written.unchanged)
        if ts:
            self.first = min(ts) if self.first is None else self.first
            self.last = max(ts)


def ingest_sentiment(
    exchange_or_venue: str | VenueConfig | ccxt.Exchange,
    symbols: Sequence[str] | str,
    timeframe: str,
    since: str | datetime | int,
    until: str | datetime | int | None = None,
    *,
    lake: Any = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    lake_exchange: str | None = None,
    timeout_ms: int | None = None,
) -> list[SentimentIngestReport]:
    """Fetch open interest, the long/short ratio and taker volume of perpetual `symbols` in [since, until)."""
    start = parse_time(since)
    if start is None:
        raise ConfigError("sentiment ingest needs a start time: pass --since, e.g. --since 2024-01-01")
    tf_ms = timeframe_ms(timeframe)
    retry = retry or RetryPolicy()
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    name, exchange = _client(exchange_or_venue, timeout_ms)
    name = lake_exchange or name
    now_ms = _now_ms(exchange, clock or SystemClock(), retry)
    end_ms = min(now_ms, _ms(parse_time(until))) if until is not None else now_ms  # type: ignore[arg-type]
    reports: list[SentimentIngestReport] = []
    for symbol in [symbols] if isinstance(symbols, str) else list(symbols):
        market = find_market(exchange, symbol, retry)
        if not market.get("swap"):
            pair = symbol.split(":")[0]
            raise IngestError(f"{symbol} on {exchange.id} is not a perpetual swap: open interest and long/short "
                              f"ratios exist for perpetuals; name one, e.g. {pair}:{pair.split('/')[-1]}")
        job = _Job(exchange=exchange, lake=lake, name=name, symbol=symbol, market=market, since_ms=_ms(start),
                   end_ms=end_ms, now_ms=now_ms, retry=retry)
        reports.append(job.statistics("open_interest", (OPEN_INTEREST, OPEN_INTEREST_VALUE), stat_period(timeframe)))
        reports.append(job.statistics("long_short_ratio", (LONG_SHORT_RATIO,), stat_period(timeframe)))
        reports.append(job.taker_volume(timeframe, tf_ms))
    return reports


def _now_ms(exchange: ccxt.Exchange, clock: Clock, retry: RetryPolicy) -> int:
    try:
        server = int(call_with_retries(exchange, exchange.fetch_time, retry, "the server time"))
    except (IngestError, ccxt.BaseError, TypeError, ValueError):
        return clock.now_ms()  # no server time offered: this machine's clock decides
    return min(clock.now_ms(), server)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    exchange: ccxt.Exchange
    lake: Any
    name: str
    symbol: str
    market: dict[str, Any]
    since_ms: int
    end_ms: int
    now_ms: int
    retry: RetryPolicy

    def _resume(self, series: str, start_ms: int, step_ms: int) -> tuple[int, int | None]:
        last = self.lake.numeric.last_ts_ms(series, exchange=self.name, symbol=self.symbol)
        if last is None or last < start_ms:
            return start_ms, None
        return last + step_ms, last

    def _report(self, kind: str, series: tuple[str, ...], period: str, resumed: int | None, tally: _Tally,
                note: str | None) -> SentimentIngestReport:
        return SentimentIngestReport(
            exchange=self.name, symbol=self.symbol, kind=kind, series=series, period=period,
            resumed_from=None if resumed is None else _dt(resumed), pages=tally.pages, fetched=tally.fetched,
            inserted=tally.inserted, updated=tally.updated, unchanged=tally.unchanged,
            first_ts=None if tally.first is None else _dt(tally.first),
            last_ts=None if tally.last is None else _dt(tally.last), note=note)

    def _write(self, rows: dict[str, tuple[list[int], list[float]]]) -> Any:
        total = None
        for series, (ts, values) in rows.items():
            if ts:
                written = self.lake.numeric.write(pl.DataFrame({"ts": ts, "value": values}),
                                                  exchange=self.name, symbol=self.symbol, name=series)
                total = written if total is None else total  # the first series counts the points
        return total

    def statistics(self, kind: str, series: tuple[str, ...], period: str) -> SentimentIngestReport:
        method = {"open_interest": "fetchOpenInterestHistory", "long_short_ratio": "fetchLongShortRatioHistory"}[kind]
        if not self.exchange.has.get(method):
            return self._report(kind, series, period, None, _Tally(), f"{self.exchange.id} does not offer {method} "
                                "in ccxt; skipped")
        period_ms = timeframe_ms(period)
        oldest = -(-(self.now_ms - STAT_HISTORY_MS) // period_ms) * period_ms
        start = max(self.since_ms, oldest)
        note = (f"{self.exchange.id} keeps {kind.replace('_', ' ')} for 30 days: started at {_dt(start):%Y-%m-%d %H:%M}"
                if start > self.since_ms else None)
        cursor, resumed = self._resume(series[0], start, 1)
        tally = _Tally()
        while cursor < self.end_ms:
            window_end = min(cursor + STAT_PAGE * period_ms, self.end_ms)
            rows = self._fetch_statistics(kind, period, cursor, window_end)
            kept = [r for r in rows if r.get("timestamp") is not None and cursor <= int(r["timestamp"]) < window_end]
            kept = list({int(r["timestamp"]): r for r in kept}.values())  # one point per timestamp, the last sent
            if kept:
                ts = [int(r["timestamp"]) for r in kept]
                fields = (("openInterestAmount", "openInterestValue") if kind == "open_interest"
                          else ("longShortRatio",))
                columns: dict[str, tuple[list[int], list[float]]] = {}
                for out, field in zip(series, fields, strict=True):
                    pairs = [(t, float(r[field])) for t, r in zip(ts, kept, strict=True) if r.get(field) is not None]
                    columns[out] = ([t for t, _ in pairs], [v for _, v in pairs])
                written = self._write(columns)
                if written is not None:
                    tally.add(written, ts)
            cursor = window_end
        return self._report(kind, series, period, resumed, tally, note)

    def _fetch_statistics(self, kind: str, period: str, start: int, window_end: int) -> list[dict[str, Any]]:
        fetch: Callable[..., list[dict[str, Any]]] = (
            self.exchange.fetch_open_interest_history if kind == "open_interest"
            else self.exchange.fetch_long_short_ratio_history)
        # `until` becomes Binance's endTime (inclusive): the window is [start, window_end)
        return call_with_retries(
            self.exchange, lambda: fetch(self.symbol, period, since=start, limit=STAT_PAGE,
                                         params={"until": window_end - 1}),
            self.retry, f"{self.symbol} {kind.replace('_', ' ')} since {start}") or []

    def taker_volume(self, timeframe: str, tf_ms: int) -> SentimentIngestReport:
        series = taker_series(timeframe)
        raw = getattr(self.exchange, "fapiPublicGetKlines", None)
        if raw is None or not self.market.get("linear"):
            return self._report("taker_volume", series, timeframe, None, _Tally(),
                                f"{self.exchange.id} klines carry no taker volume that ccxt exposes; skipped")
        cursor, resumed = self._resume(series[0], self.since_ms - self.since_ms % tf_ms, tf_ms)
        closed_end = min(self.end_ms, self.now_ms - tf_ms + 1)  # bars opened before this have closed
        tally = _Tally()
        while cursor < closed_end:
            window_end = min(cursor + KLINE_PAGE * tf_ms, closed_end)
            request = {"symbol": self.market["id"], "interval": timeframe, "startTime": cursor,
                       "endTime": window_end - 1, "limit": KLINE_PAGE}
            rows = call_with_retries(self.exchange, lambda request=request: raw(request), self.retry,
                                     f"{self.symbol} {timeframe} klines since {cursor}") or []
            bars = {int(r[0]): (float(r[5]), float(r[9])) for r in rows
                    if cursor <= int(r[0]) < window_end and len(r) > 9}
            if bars:
                ts = sorted(bars)
                buy = [bars[t][1] for t in ts]
                sell = [max(bars[t][0] - bars[t][1], 0.0) for t in ts]
                traded = [t for t in ts if bars[t][0] > 0]
                written = self._write({series[0]: (ts, buy), series[1]: (ts, sell),
                                       series[2]: (traded, [bars[t][1] / bars[t][0] for t in traded])})
                tally.add(written, ts)
            cursor = window_end
        return self._report("taker_volume", series, timeframe, resumed, tally, None)
