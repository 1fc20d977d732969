"""`ingest_funding()`: a perpetual's funding-rate history through ccxt into the lake's funding table.

ccxt's `fetch_funding_rate_history` answers the settlements at or after `since`, oldest first
(Binance: at most 1000 per request). Each page is written as it arrives and the next one
starts just after the newest stored settlement, so a rerun resumes and an interrupted run
loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ccxt
import polars as pl

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ConfigError, IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.core.timeframes import parse_time
from quantdesk.ingest.fetch import RetryPolicy, call_with_retries, find_market
from quantdesk.ingest.service import _client, _dt, _ms

__all__ = ["FundingIngestReport", "ingest_funding"]

PAGE = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingIngestReport:
    """What one symbol's funding ingest did."""

    exchange: str
    symbol: str
    resumed_from: datetime | None
    pages: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    first_ts: datetime | None
    last_ts: datetime | None


def ingest_funding(
    exchange_or_venue: str | VenueConfig | ccxt.Exchange,
    symbols: Sequence[str] | str,
    since: str | datetime | int,
    until: str | datetime | int | None = None,
    *,
    lake: Any = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    lake_exchange: str | None = None,
    timeout_ms: int | None = None,
) -> list[FundingIngestReport]:
    """Fetch funding settlements of perpetual `symbols` (`XRP/USDT:USDT`) in [since, until) into the lake."""
    start = parse_time(since)
    if start is None:
        raise ConfigError("funding ingest needs a start time: pass --since, e.g. --since 2024-01-01")
    end_ms = _ms(parse_time(until)) if until is not None else (clock or SystemClock()).now_ms()  # type: ignore[arg-type]
    retry = retry or RetryPolicy()
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    name, exchange = _client(exchange_or_venue, timeout_ms)
    name = lake_exchange or name
    if not exchange.has.get("fetchFundingRateHistory"):
        raise IngestError(f"{exchange.id} does not offer fetchFundingRateHistory in ccxt; pick another exchange")
    reports = []
    for symbol in [symbols] if isinstance(symbols, str) else list(symbols):
        market = find_market(exchange, symbol, retry)
        if not market.get("swap"):
            pair = symbol.split(":")[0]
            raise IngestError(f"{symbol} on {exchange.id} is not a perpetual swap, so it has no funding; "
                              f"name the perpetual, e.g. {pair}:{pair.split('/')[-1]}")
        reports.append(_one(exchange, lake, name, symbol, _ms(start), end_ms, retry))
    return reports


def _one(exchange: ccxt.Exchange, lake: Any, name: str, symbol: str, since_ms: int, end_ms: int,
         retry: RetryPolicy) -> FundingIngestReport:
    stored = lake.funding.read(symbol, exchange=name, start=since_ms, end=end_ms)
    last = int(stored["ts"].dt.epoch("ms").max()) if stored.height else None
    cursor = since_ms if last is None else last + 1
    pages = fetched = inserted = updated = unchanged = 0
    first_ts = last_ts = None
    while cursor < end_ms:
        start = cursor
        rows = call_with_retries(
            exchange, lambda start=start: exchange.fetch_funding_rate_history(symbol, since=start, limit=PAGE),
            retry, f"{symbol} funding rates since {start}")
        kept = [r for r in rows or [] if start <= int(r["timestamp"]) < end_ms]
        if not kept:
            break
        frame = pl.DataFrame({"ts": [int(r["timestamp"]) for r in kept],
                              "rate": [float(r["fundingRate"]) for r in kept]}).unique("ts", keep="last")
        written = lake.funding.write(frame, exchange=name, symbol=symbol)
        pages += 1
        fetched += frame.height
        inserted, updated, unchanged = (inserted + written.inserted, updated + written.updated,
                                        unchanged + written.unchanged)
        newest = int(frame["ts"].max())  # type: ignore[arg-type]
        first_ts = first_ts or _dt(int(frame["ts"].min()))  # type: ignore[arg-type]
        last_ts = _dt(newest)
        if len(rows) < PAGE:
            break
        cursor = newest + 1
    return FundingIngestReport(exchange=name, symbol=symbol, resumed_from=None if last is None else _dt(last),
                               pages=pages, fetched=fetched, inserted=inserted, updated=updated,
                               unchanged=unchanged, first_ts=first_ts, last_ts=last_ts)
