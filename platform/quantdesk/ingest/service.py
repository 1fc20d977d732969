"""`ingest()`: fetch candles from a ccxt exchange or named venue into the lake, resuming where it stopped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ccxt
import polars as pl

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ConfigError
from quantdesk.core.settings import VenueConfig
from quantdesk.core.timeframes import parse_time, timeframe_ms
from quantdesk.ingest.exchange import make_exchange, resolve_venue
from quantdesk.ingest.fetch import RetryPolicy, fetch_ohlcv_pages

if TYPE_CHECKING:
    from quantdesk.lake import Lake

__all__ = ["IngestProgress", "IngestReport", "ingest", "last_stored_ms"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    """What one symbol's ingest did. `resumed_from` is set when the lake already held candles."""

    exchange: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    resumed_from: datetime | None
    pages: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestProgress:
    """A progress event: `done` of `total` candle slots of `symbol` are covered (gaps count as done)."""

    symbol: str
    done: int
    total: int
    rows: int


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def last_stored_ms(
    lake: Any, exchange: str, symbol: str, timeframe: str, since_ms: int | None = None
) -> int | None:
    """Return the open time (epoch ms) of the newest stored `timeframe` candle at or after `since_ms`, or None."""
    if timeframe not in lake.timeframes(symbol, exchange):
        return None  # only a stored series counts; a resampled view must not move the resume point
    frame = lake.candles(symbol, timeframe, start=since_ms, exchange=exchange)
    if frame.is_empty():
        return None
    return int(frame["ts"].cast(pl.Datetime("ms", "UTC")).cast(pl.Int64).max())  # type: ignore[arg-type]


def _client(
    exchange_or_venue: str | VenueConfig | ccxt.Exchange, timeout_ms: int | None
) -> tuple[str, ccxt.Exchange]:
    if isinstance(exchange_or_venue, ccxt.Exchange):
        return str(exchange_or_venue.id), exchange_or_venue
    if isinstance(exchange_or_venue, VenueConfig):
        return exchange_or_venue.exchange, make_exchange(exchange_or_venue, timeout_ms=timeout_ms)
    name, venue = resolve_venue(exchange_or_venue)
    return name, make_exchange(venue, timeout_ms=timeout_ms, name=name)


def ingest(
    exchange_or_venue: str | VenueConfig | ccxt.Exchange,
    symbols: Sequence[str] | str,
    timeframe: str,
    since: str | datetime | int,
    until: str | datetime | int | None = None,
    *,
    lake: Lake | None = None,
    clock: Clock | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
    retry: RetryPolicy | None = None,
    lake_exchange: str | None = None,
    timeout_ms: int | None = None,
    price: str | None = None,
) -> list[IngestReport]:
    """Fetch closed `timeframe` candles of `symbols` from `since` to `until` (exclusive) into the lake.

    `exchange_or_venue` is a ccxt id, a venue name from quantdesk.toml, a VenueConfig or a
    ready ccxt client. Data is stored under `exchange=<venue name or ccxt id>` unless
    `lake_exchange` says otherwise. Each symbol resumes after the newest candle already
    stored; every page is written as it arrives, so an interrupted run loses nothing.
    The still-open candle (per `clock`) is never fetched. `price="mark"` fetches a
    perpetual's mark-price candles instead, stored as the series `<symbol>@mark`.
    """
    if price not in (None, "mark"):
        raise ConfigError(f"price {price!r} is not a candle kind ingest knows; pass price='mark' or leave it out")
    clock = clock or SystemClock()
    retry = retry or RetryPolicy()
    step = timeframe_ms(timeframe)
    start = parse_time(since)
    if start is None:
        raise ConfigError("ingest needs a start time: pass --since, e.g. --since 2024-01-01")
    now_ms = clock.now_ms()
    open_ms = now_ms - now_ms % step  # open time of the candle still in progress
    end_ms = min(open_ms, _ms(parse_time(until))) if until is not None else open_ms  # type: ignore[arg-type]
    if _ms(start) >= end_ms:
        raise ConfigError(
            f"--since {start.isoformat()} is not before the end {_dt(end_ms).isoformat()}: nothing to fetch"
        )
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    name, exchange = _client(exchange_or_venue, timeout_ms)
    name = lake_exchange or name
    since_ms = _ms(start) - _ms(start) % step  # align to the candle grid
    reports = []
    for symbol in [symbols] if isinstance(symbols, str) else list(symbols):
        reports.append(
            _ingest_symbol(
                exchange, lake, name, symbol, timeframe, since_ms, end_ms, retry, progress, price
            )
        )
    return reports


def _ingest_symbol(
    exchange: ccxt.Exchange,
    lake: Any,
    name: str,
    symbol: str,
    timeframe: str,
    since_ms: int,
    end_ms: int,
    retry: RetryPolicy,
    progress: Callable[[IngestProgress], None] | None,
    price: str | None = None,
) -> IngestReport:
    step = timeframe_ms(timeframe)
    stored_as = f"{symbol}@{price}" if price else symbol
    last = last_stored_ms(lake, name, stored_as, timeframe, since_ms)
    start_ms = since_ms if last is None else max(since_ms, min(last + step, end_ms))
    total = max(0, (end_ms - since_ms) // step)
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "quarantined": 0}
    pages = fetched = 0
    first_ts = last_ts = None
    if progress:
        progress(
            IngestProgress(symbol=symbol, done=(start_ms - since_ms) // step, total=total, rows=0)
        )
    pager = fetch_ohlcv_pages(
        exchange, symbol, timeframe, since_ms=start_ms, until_ms=end_ms, policy=retry,
        params={"price": price} if price else None,
    )
    for page in pager if start_ms < end_ms else ():
        report = lake.write(page, exchange=name, symbol=stored_as, timeframe=timeframe)
        for key in counts:
            counts[key] += int(getattr(report, key, 0))
        pages += 1
        fetched += page.height
        first_ts = first_ts or page["ts"][0]
        last_ts = page["ts"][-1]
        if progress:
            done = min(total, (_ms(last_ts) + step - since_ms) // step)
            progress(IngestProgress(symbol=symbol, done=done, total=total, rows=fetched))
    if progress:
        progress(IngestProgress(symbol=symbol, done=total, total=total, rows=fetched))
    return IngestReport(
        exchange=name,
        symbol=stored_as,
        timeframe=timeframe,
        start=_dt(start_ms),
        end=_dt(end_ms),
        resumed_from=None if last is None else _dt(last),
        pages=pages,
        fetched=fetched,
        first_ts=first_ts,
        last_ts=last_ts,
        **counts,
    )
