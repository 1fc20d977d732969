"""Where the runner gets candles: the lake, kept in memory and brought up to date from the venue.

`LakeMarket` serves the trailing window per symbol from a `CandleWindow` that holds what the
lake holds. With an `updater` (a `VenueCandles`), `refresh(bar_ms)` fetches the closed bars
the window lacks from the venue, checks them exactly as the lake will (same validation, same
clock) and appends them in memory, so the decision reads no Parquet; `flush()` then writes
them to the lake (the runner calls it once the bar's orders are out). The window re-reads the
lake whenever the series' files changed behind its back (another writer), so it never serves
anything but the lake's content plus the bars it is about to write.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import DataError, QuantdeskError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.lake.resample import closed_candles
from quantdesk.live.feed import Rows, VenueCandles, clean_rows, rows_frame
from quantdesk.live.window import CandleWindow, frame_arrays

__all__ = ["LakeMarket", "VenueCandles"]

log = logging.getLogger(__name__)

Signature = tuple[Any, ...]


class LakeMarket:
    """Candles of `symbols` in `timeframe` from `lake` under `exchange`; `updater` brings new closed bars."""

    def __init__(
        self,
        lake: Any,
        *,
        exchange: str,
        symbols: Sequence[str],
        timeframe: str,
        updater: VenueCandles | None = None,
    ) -> None:
        self.lake = lake
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.step_ms = timeframe_ms(timeframe)
        self.updater = updater
        self._windows: dict[str, CandleWindow] = {}
        self._signatures: dict[str, Signature | None] = {}
        self._pending: dict[str, list[Rows]] = {s: [] for s in self.symbols}
        self._folders: dict[str, Path] = {}
        self._listings: dict[str, tuple[int, tuple[str, ...], int]] = {}

    # -- the hot path ----------------------------------------------------------------------
    def refresh(self, bar_ms: int) -> None:
        """Fetch the closed bars up to the one opened at `bar_ms` that the window lacks (no-op without an updater).

        The bars go to memory at once and to the lake on `flush()`.
        """
        if self.updater is None:
            return
        from_ms = bar_ms - self.updater.history_bars * self.step_ms
        for symbol in self.symbols:
            window = self._synced(symbol, from_ms, allow_newer_start=True)
            last = window.last_ms
            if last is None or last < from_ms or self._signatures.get(symbol) is None:
                since = from_ms  # as ingest: only a stored series (not a resampled view) sets the resume point
            else:
                since = last + self.step_ms
            rows = self.updater.fetch(symbol, since, bar_ms + self.step_ms)
            if len(rows[0]) == 0:
                continue
            good = self._good(rows)  # SchemaError here: nothing is kept or written
            self._pending[symbol].append(rows)
            window.upsert(*good)

    def window(self, bar_ms: int, bars: int) -> dict[str, pl.DataFrame]:
        """Return up to `bars` candles per symbol ending with the bar opened at `bar_ms` (inclusive)."""
        start = bar_ms - (bars - 1) * self.step_ms
        out = {}
        for symbol in self.symbols:
            window = self._synced(symbol, start)
            out[symbol] = window.frame(start, bar_ms)
            window.trim(start)  # memory stays one window long; refresh needs only the newest bar
        return out

    # -- after the decision ----------------------------------------------------------------
    def flush(self) -> None:
        """Write the bars fetched since the last flush to the lake; a failed write is kept for the next one."""
        for symbol, rows in self._pending.items():
            if not rows:
                continue
            before = self._signature(symbol)
            ts = np.concatenate([r[0] for r in rows])
            values = np.concatenate([r[1] for r in rows], axis=1)
            try:
                report = self.lake.write(rows_frame(ts, values), exchange=self.exchange, symbol=symbol,
                                         timeframe=self.timeframe)
            except (QuantdeskError, OSError) as e:  # the orders are out already: warn, retry at the next bar
                log.warning("writing new %s %s candles to the lake failed (kept for the next bar): %s",
                            symbol, self.timeframe, e)
                continue
            rows.clear()
            known = self._signatures.get(symbol)
            if known is not None and before == known and not getattr(report, "quarantined", 0):
                self._signatures[symbol] = self._signature(symbol)  # only our write changed the files
            else:  # someone else wrote too, the series was new, or rows were refused: read it back next time
                self._windows.pop(symbol, None)

    # -- keeping memory equal to the lake ---------------------------------------------------
    def _synced(self, symbol: str, from_ms: int, *, allow_newer_start: bool = False) -> CandleWindow:
        """Return the symbol's window, re-read from the lake when it may differ from it or starts too late."""
        signature = self._signature(symbol)
        window = self._windows.get(symbol)
        if (window is not None and signature is not None and signature == self._signatures.get(symbol)
                and (window.loaded_from_ms <= from_ms or (allow_newer_start and window.last_ms is not None))):
            return window
        frame = pl.DataFrame()
        if signature is not None or not self._pending[symbol]:  # else the lake will hold just what we write
            with contextlib.suppress(DataError):  # nothing stored yet: an empty window (stale, fail closed)
                frame = closed_candles(self.lake.candles(symbol, self.timeframe, start=from_ms, exchange=self.exchange))
        window = CandleWindow.from_frame(frame, loaded_from_ms=from_ms)
        for rows in self._pending[symbol]:  # fetched, not written yet: still part of what we hold
            window.upsert(*self._good(rows))
        self._windows[symbol] = window
        self._signatures[symbol] = signature
        return window

    def _good(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows the lake will store of `rows` (its checks, at its clock) as (ts ms, values)."""
        from quantdesk.lake.layout import grid_offset_ms

        ts, values = rows
        offset, now_ms = grid_offset_ms(self.timeframe), self.lake.clock.now_ms()
        if clean_rows(ts, values, tf_ms=self.step_ms, offset_ms=offset, now_ms=now_ms):
            return ts.astype(np.int64), values
        from quantdesk.lake.validation import normalise, validate

        # something to refuse or merge: the lake's own rules decide, row by row
        good, _bad = validate(normalise(rows_frame(ts, values)), tf_ms=self.step_ms, offset_ms=offset,
                              now_ms=now_ms)
        return frame_arrays(good)

    def _signature(self, symbol: str) -> Signature | None:
        """Return what identifies the series' files (None: the timeframe is not stored as such).

        Lake writes replace files atomically (temp + rename), which changes the folder's mtime
        and the new file's inode; a trailing window reads the newest two period files. A series
        that is not stored (the lake resamples it from a finer one) is never held in memory.
        """
        root = getattr(self.lake, "root", None)
        if root is None:
            return None
        from quantdesk.lake.layout import series_dir

        folder = self._folders.get(symbol)
        if folder is None:
            folder = self._folders[symbol] = series_dir(Path(root), self.exchange, symbol, self.timeframe)
        try:
            folder_mtime = os.stat(folder).st_mtime_ns
            listed = self._listings.get(symbol)
            if listed is None or listed[0] != folder_mtime:  # a file came or went: list the folder again
                names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".parquet")
                               and not e.name.startswith("."))
                listed = self._listings[symbol] = (folder_mtime, tuple(names[-2:]), len(names))
            if not listed[1]:
                return None
            newest = [(name, os.stat(folder / name)) for name in listed[1]]
        except FileNotFoundError:
            return None
        return (folder_mtime, listed[2], *((n, st.st_ino, st.st_size, st.st_mtime_ns) for n, st in newest))
