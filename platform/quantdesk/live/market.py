"""Where the runner gets candles: the lake, brought up to date from the venue before each bar.

`LakeMarket` reads the trailing window from the lake (the same candles the backtest read)
and, with an `updater`, first ingests the newest closed bars from the venue (ccxt).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import timeframe_ms

__all__ = ["LakeMarket", "ingest_updater"]


class LakeMarket:
    """Candles of `symbols` in `timeframe` from `lake` under `exchange`; `updater(bar_ms)` refreshes them."""

    def __init__(
        self,
        lake: Any,
        *,
        exchange: str,
        symbols: Sequence[str],
        timeframe: str,
        updater: Callable[[int], None] | None = None,
    ) -> None:
        self.lake = lake
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.step_ms = timeframe_ms(timeframe)
        self.updater = updater
        self._cache: dict[str, pl.DataFrame] = {}

    def refresh(self, bar_ms: int) -> None:
        """Bring the lake up to the bar opened at `bar_ms` (no-op without an updater)."""
        if self.updater is not None:
            self.updater(bar_ms)

    def window(self, bar_ms: int, bars: int) -> dict[str, pl.DataFrame]:
        """Return up to `bars` candles per symbol ending with the bar opened at `bar_ms` (inclusive).

        Closed bars do not change, so the previous window is kept and only newer bars are read.
        """
        start = bar_ms - (bars - 1) * self.step_ms
        out = {}
        for symbol in self.symbols:
            cached = self._cache.get(symbol)
            first = start
            if cached is not None and not cached.is_empty() and _first_ms(cached) <= start <= _last_ms(cached):
                first = _last_ms(cached) + self.step_ms
            else:
                cached = None
            try:
                fresh = self.lake.candles(symbol, self.timeframe, start=first, end=bar_ms + self.step_ms,
                                          exchange=self.exchange) if first <= bar_ms else None
            except DataError:
                fresh = None
            frame = cached if fresh is None else (fresh if cached is None else pl.concat([cached, fresh],
                                                                                        how="vertical_relaxed"))
            if frame is None:
                frame = pl.DataFrame()
            elif not frame.is_empty():
                ts = _ts_ms(frame)
                frame = frame.filter((ts >= start) & (ts <= bar_ms))
            self._cache[symbol] = frame
            out[symbol] = frame
        return out


def _ts_ms(frame: pl.DataFrame) -> pl.Series:
    return frame["ts"].cast(pl.Datetime("ms", "UTC")).cast(pl.Int64)


def _first_ms(frame: pl.DataFrame) -> int:
    return int(_ts_ms(frame)[0])


def _last_ms(frame: pl.DataFrame) -> int:
    return int(_ts_ms(frame)[-1])


def ingest_updater(exchange: Any, lake: Any, *, lake_exchange: str, symbols: Sequence[str], timeframe: str,
                   clock: Any, history_bars: int) -> Callable[[int], None]:
    """Return an updater that ingests closed candles from a ccxt client into the lake (quantdesk.ingest)."""
    from quantdesk.ingest import ingest

    step = timeframe_ms(timeframe)

    def update(bar_ms: int) -> None:
        since = bar_ms - history_bars * step
        ingest(exchange, list(symbols), timeframe, since, bar_ms + step, lake=lake, clock=clock,
               lake_exchange=lake_exchange)

    return update
