"""The live runner's updater: the venue's newest closed candles as numpy rows, checked as the lake checks them.

At a bar close the runner needs one new bar per symbol. `VenueCandles` asks the ccxt client
for the bars after the newest one held (paged, with `quantdesk.ingest`'s retries and error
translation) and returns plain arrays: building polars frames and running the lake's
validation expressions for one row cost milliseconds. `clean_rows` applies the lake's row
rules (`quantdesk.lake.validation`) in numpy; it answers only "all clean, sorted, unique",
and anything else goes through the lake's own `validate`, so memory never accepts a row the
lake would quarantine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.timeframes import timeframe_ms

__all__ = ["Rows", "VenueCandles", "clean_rows", "rows_frame"]

Rows = tuple[np.ndarray, np.ndarray]  # (open times as float64 epoch ms, values shaped (5, n))


def clean_rows(ts: np.ndarray, values: np.ndarray, *, tf_ms: int, offset_ms: int, now_ms: int) -> bool:
    """Return True when every row passes the lake's checks and open times strictly increase.

    The rules of `QuarantineReason`, in numpy: a prices (open, high, low, close) finite and > 0,
    high >= low, high >= max(open, close), low <= min(open, close), volume finite and >= 0, on
    the timeframe's grid, closed at `now_ms`.
    """
    if len(ts) == 0:
        return True
    if not np.isfinite(ts).all():
        return False
    o, h, low, c, v = values
    prices = values[:4]
    if not (np.isfinite(prices).all() and (prices > 0).all() and np.isfinite(v).all() and (v >= 0).all()):
        return False
    if (h < low).any() or (h < np.maximum(o, c)).any() or (low > np.minimum(o, c)).any():
        return False
    t = ts.astype(np.int64)
    if ((t - offset_ms) % tf_ms != 0).any() or (t + tf_ms > now_ms).any():
        return False
    return bool(len(t) < 2 or (np.diff(t) > 0).all())


def rows_frame(ts: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    """Return rows as a frame the lake's `write` accepts (epoch-ms `ts`; a missing one stays null)."""
    frame = pl.DataFrame({"ts": pl.Series("ts", ts, dtype=pl.Float64).fill_nan(None).cast(pl.Int64),
                          **{name: values[k] for k, name in enumerate(("open", "high", "low", "close", "volume"))}})
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


class VenueCandles:
    """Closed candles of one timeframe from a ccxt client (`LakeMarket`'s updater).

    `history_bars`: how far back the first refresh looks for bars the lake lacks; later ones
    resume after the newest bar held.
    """

    def __init__(self, exchange: Any, *, timeframe: str, clock: Any, history_bars: int, retry: Any = None) -> None:
        from quantdesk.ingest.fetch import RetryPolicy

        self.exchange = exchange
        self.timeframe = timeframe
        self.clock = clock
        self.history_bars = history_bars
        self.retry = retry or RetryPolicy()
        self.step_ms = timeframe_ms(timeframe)
        self._limits: dict[str, int] = {}

    def fetch(self, symbol: str, since_ms: int, until_ms: int) -> Rows:
        """Return the closed candles in [since_ms, until_ms) (never the one still open), oldest first."""
        from quantdesk.ingest.fetch import call_with_retries

        now_ms = self.clock.now_ms()
        until_ms = min(until_ms, now_ms - now_ms % self.step_ms)
        parts: list[np.ndarray] = []
        cursor = since_ms
        limit = self._limit(symbol)
        while cursor < until_ms:
            start = cursor
            page = call_with_retries(self.exchange, lambda start=start: self._page(symbol, start, limit),
                                     self.retry, f"{symbol} {self.timeframe} candles since {start}")
            if len(page) == 0:
                break
            last = np.nanmax(page[:, 0]) if np.isfinite(page[:, 0]).any() else -np.inf
            keep = (page[:, 0] >= start) & (page[:, 0] < until_ms)  # NaN open times fall out, as in ingest
            if keep.any():
                parts.append(page[keep])
            if last < start:  # the venue ignored `since`; stop rather than loop forever
                break
            cursor = int(last) + self.step_ms
        rows = np.concatenate(parts) if parts else np.empty((0, 6))
        if len(rows) > 1 and not (np.diff(rows[:, 0]) > 0).all():
            rows = rows[np.argsort(rows[:, 0], kind="stable")]
        return rows[:, 0].copy(), np.ascontiguousarray(rows[:, 1:6].T)

    def _limit(self, symbol: str) -> int:
        limit = self._limits.get(symbol)
        if limit is None:  # markets once per symbol: ccxt caches them, the checks need not run per bar
            from quantdesk.ingest.fetch import page_limit_for

            limit = self._limits[symbol] = page_limit_for(self.exchange, symbol, self.timeframe, self.retry)
        return limit

    def _page(self, symbol: str, since: int, limit: int) -> np.ndarray:
        from quantdesk.ingest.fetch import fetch_ohlcv_rows

        rows = fetch_ohlcv_rows(self.exchange, symbol, self.timeframe, since, limit)
        if not rows:
            return np.empty((0, 6))
        return np.array([r[:6] for r in rows], dtype=np.float64)  # None -> NaN: the checks reject it
