"""One symbol's trailing candles held in memory, so the live runner reads no Parquet per bar.

The runner asks for the same trailing window at every bar close, one bar further on. Reading
it from the lake costs a scan of the month file each time; `CandleWindow` keeps the rows the
lake holds from `loaded_from_ms` on (sorted, one per open time) in preallocated numpy
columns. A new closed bar is a row write; the polars frame `target()` receives is built only
when asked, from the requested slice, and copied out so later writes never change it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["VALUE_COLUMNS", "CandleWindow"]

VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
_TS = pl.Datetime("ms", "UTC")


def frame_arrays(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (epoch-ms open times, values shaped (5, rows)) of a candle frame."""
    if frame.is_empty():
        return np.empty(0, np.int64), np.empty((len(VALUE_COLUMNS), 0))
    ts = frame.get_column("ts").cast(_TS).to_physical().to_numpy().astype(np.int64, copy=False)
    values = np.vstack([frame.get_column(c).cast(pl.Float64).to_numpy() for c in VALUE_COLUMNS])
    return ts, values


class CandleWindow:
    """The lake's candles of one series from `loaded_from_ms` on, in memory.

    Rows are kept sorted and unique by open time; `upsert` replaces a stored bar with the
    same open time (as the lake's upsert does) and appends newer ones in O(1) amortised.
    """

    def __init__(self, *, loaded_from_ms: int, capacity: int = 1024) -> None:
        self.loaded_from_ms = loaded_from_ms
        self._ts = np.empty(capacity, np.int64)
        self._values = np.empty((len(VALUE_COLUMNS), capacity))
        self._lo = 0
        self._hi = 0
        self._built: tuple[int, int, pl.DataFrame] | None = None  # the last frame handed out

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, *, loaded_from_ms: int) -> CandleWindow:
        """Return a window holding `frame` (candles read from the lake from `loaded_from_ms` on)."""
        window = cls(loaded_from_ms=loaded_from_ms, capacity=max(1024, 2 * len(frame)))
        window.upsert(*frame_arrays(frame))
        return window

    def __len__(self) -> int:
        return self._hi - self._lo

    @property
    def last_ms(self) -> int | None:
        """Return the open time of the newest bar held, or None when empty."""
        return int(self._ts[self._hi - 1]) if self._hi > self._lo else None

    def upsert(self, ts_ms: np.ndarray, values: np.ndarray) -> None:
        """Store bars (sorted, unique open times; values shaped (5, rows)); same open time: replace."""
        keep = ts_ms >= self.loaded_from_ms  # older rows are outside what this window claims to hold
        if not keep.all():
            ts_ms, values = ts_ms[keep], values[:, keep]
        n = len(ts_ms)
        if n == 0:
            return
        self._built = None
        last = self.last_ms
        if last is None or ts_ms[0] > last:  # the live case: newer bars, appended
            self._reserve(n)
            self._ts[self._hi:self._hi + n] = ts_ms
            self._values[:, self._hi:self._hi + n] = values
            self._hi += n
            return
        # a late or corrected bar: merge, the new row winning on equal open times
        old_ts, old_values = self._ts[self._lo:self._hi], self._values[:, self._lo:self._hi]
        stale = np.isin(old_ts, ts_ms)
        merged_ts = np.concatenate([old_ts[~stale], ts_ms])
        merged_values = np.concatenate([old_values[:, ~stale], values], axis=1)
        order = np.argsort(merged_ts, kind="stable")
        self._lo = self._hi = 0
        self._reserve(len(merged_ts))
        self._ts[:len(merged_ts)] = merged_ts[order]
        self._values[:, :len(merged_ts)] = merged_values[:, order]
        self._hi = len(merged_ts)

    def trim(self, before_ms: int) -> None:
        """Forget bars opened before `before_ms` (the window no longer claims to hold them)."""
        if before_ms <= self.loaded_from_ms:
            return
        self.loaded_from_ms = before_ms
        cut = self._lo + int(np.searchsorted(self._ts[self._lo:self._hi], before_ms, side="left"))
        if cut != self._lo:
            self._lo = cut
            self._built = None

    def frame(self, start_ms: int, end_ms: int) -> pl.DataFrame:
        """Return the bars opened in [start_ms, end_ms] as a candle frame (the lake's schema)."""
        ts = self._ts[self._lo:self._hi]
        i = self._lo + int(np.searchsorted(ts, start_ms, side="left"))
        j = self._lo + int(np.searchsorted(ts, end_ms, side="right"))
        built = self._built
        if built is not None and built[0] == i and built[1] == j:
            return built[2]  # asked again within the bar (a stale-data retry): same rows
        columns = {"ts": pl.Series("ts", self._ts[i:j].copy()).cast(_TS)}
        for k, name in enumerate(VALUE_COLUMNS):
            columns[name] = pl.Series(name, self._values[k, i:j].copy())
        out = pl.DataFrame(columns)
        self._built = (i, j, out)
        return out

    def _reserve(self, n: int) -> None:
        """Make room for `n` more rows after the newest: move the held rows to the front, or grow."""
        capacity = len(self._ts)
        if self._hi + n <= capacity:
            return
        held = self._hi - self._lo
        if held + n > capacity // 2:  # keep appends amortised O(1): at most half full after a move
            capacity = max(2 * (held + n), 1024)
        ts = np.empty(capacity, np.int64)
        values = np.empty((len(VALUE_COLUMNS), capacity))
        ts[:held] = self._ts[self._lo:self._hi]
        values[:, :held] = self._values[:, self._lo:self._hi]
        self._ts, self._values, self._lo, self._hi = ts, values, 0, held
