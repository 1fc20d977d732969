"""Prices and daily returns of the book's assets from the lake.

Daily bars are built from the finest stored timeframe of each series (`quantdesk.lake.resample`:
open first, close last of the day's bars, UTC days), so a lake that stores only 1m candles and
one that also stores the exchange's own 1d bars give the same closes. A day's return is its
close over the previous day's close, minus one, and exists only when both days have a close
(a missing day leaves a gap instead of a two-day return). The exposure price is the newest close
of the finest series. Which lake exchange holds a position's symbol: the deployment's `exchange`,
else the venue's name, else the venue's configured ccxt exchange, else the only exchange that
holds the symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import RiskError
from quantdesk.core.timeframes import timeframe_ms

__all__ = ["DailySeries", "LakeIndex", "aligned_returns", "daily_series"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySeries:
    """One series' daily closes (UTC days) and its newest price."""

    exchange: str
    symbol: str
    timeframe: str  # the finest stored timeframe the days were built from
    days: tuple[date, ...]
    closes: np.ndarray
    price: float
    price_ts: datetime


class LakeIndex:
    """What the lake holds (read once): which exchanges hold a symbol, and where to find a position's."""

    def __init__(self, lake: Any, settings: Any = None) -> None:
        self.lake = lake
        self.series = lake.series()
        self.venues = dict(getattr(settings, "venues", {}) or {})

    def holders(self, symbol: str) -> list[str]:
        return sorted({ex for ex, sym, _tf in self.series if sym == symbol})

    def resolve(self, symbol: str, *, venue: str | None = None, hint: str | None = None) -> str:
        """Return the lake exchange of `symbol` traded on `venue` (the chain in the module docstring)."""
        held = self.holders(symbol)
        configured = self.venues.get(venue) if venue else None
        for candidate in (hint, venue, getattr(configured, "exchange", None)):
            if candidate and candidate in held:
                return candidate
        if len(held) == 1:
            return held[0]
        if held:
            raise RiskError(f"{symbol} (venue {venue}) is in the lake for several exchanges {held}: give the "
                            "deployment an exchange, or name the venue after the lake's exchange")
        exchange = hint or getattr(configured, "exchange", None) or venue or "EXCHANGE"
        raise RiskError(f"{symbol} (venue {venue}) has no history in the lake: ingest it first: quantdesk ingest "
                        f"--exchange {exchange} --symbol {symbol} --timeframe 1m --since YYYY-MM-DD")


def daily_series(lake: Any, exchange: str, symbol: str, *, days: int | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> DailySeries:
    """Return the daily closes of one series built from its finest stored timeframe.

    `days`: only about the newest `days` days (the whole series when the lake is behind the clock);
    `start`/`end`: an explicit window instead.
    """
    from quantdesk.lake.resample import resample

    stored = lake.timeframes(symbol, exchange)
    if not stored:
        raise RiskError(f"{symbol} has no candles on {exchange} in the lake: ingest it first")
    finest = stored[0]
    if timeframe_ms(finest) > DAY_MS:
        raise RiskError(f"{symbol} on {exchange} is stored only as {finest} bars: daily returns need 1d or finer; "
                        f"ingest 1m or 1d candles")
    if days is not None and start is None:
        now = lake.clock.now()
        frame = lake.candles(symbol, finest, start=now - timedelta(days=days + 3), end=end, exchange=exchange)
        newest = frame["ts"][-1] if frame.height else None
        if newest is None:  # the lake is far behind the clock (a sample, an old backfill): read it all
            frame = lake.candles(symbol, finest, end=end, exchange=exchange)
        elif newest < now - timedelta(days=2):  # behind: the window ends at the newest bar
            frame = lake.candles(symbol, finest, start=newest - timedelta(days=days + 3), end=end, exchange=exchange)
    else:
        frame = lake.candles(symbol, finest, start=start, end=end, exchange=exchange)
    if frame.is_empty():
        raise RiskError(f"{symbol} has no candles on {exchange} in the asked window: ingest it first")
    price, price_ts = float(frame["close"][-1]), frame["ts"][-1]
    if finest != "1d":
        frame = resample(frame.select("ts", "open", "high", "low", "close", "volume"), source=finest, target="1d",
                         now_ms=lake.clock.now_ms())
        frame = frame.filter(~pl.col("forming"))
    daily = frame.select(pl.col("ts").dt.date().alias("day"), "close")
    return DailySeries(exchange=exchange, symbol=symbol, timeframe=finest, days=tuple(daily["day"].to_list()),
                       closes=daily["close"].to_numpy().astype(float), price=price, price_ts=price_ts)


def aligned_returns(series: Sequence[DailySeries], *, as_of: date | None = None
                    ) -> tuple[tuple[date, ...], np.ndarray]:
    """Return the days on which every series has a return, and the T × n matrix of those returns.

    `as_of`: drop days after it (default: the newest day all series share).
    """
    frames = []
    for i, s in enumerate(series):
        day = pl.Series("day", s.days, dtype=pl.Date)
        close = pl.Series("close", s.closes)
        f = pl.DataFrame({"day": day, "close": close}).sort("day")
        f = f.with_columns(prev_day=pl.col("day").shift(1), prev=pl.col("close").shift(1))
        f = f.filter(pl.col("prev_day") == pl.col("day") - pl.duration(days=1))
        frames.append(f.select("day", (pl.col("close") / pl.col("prev") - 1.0).alias(f"r{i}")))
    if not frames:
        return (), np.zeros((0, 0))
    joined = frames[0]
    for f in frames[1:]:
        joined = joined.join(f, on="day", how="inner")
    joined = joined.sort("day")
    if as_of is not None:
        joined = joined.filter(pl.col("day") <= as_of)
    matrix = joined.drop("day").to_numpy().astype(float) if joined.height else np.zeros((0, len(series)))
    return tuple(joined["day"].to_list()), matrix
