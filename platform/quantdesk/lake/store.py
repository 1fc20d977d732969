"""`Lake`: the candle lake's public API (write, candles, sql, coverage, gaps, quarantine)."""

from __future__ import annotations

import os
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import LakeError
from quantdesk.core.settings import get_settings
from quantdesk.core.timeframes import check_window, timeframe_ms
from quantdesk.lake import layout
from quantdesk.lake.funding import FundingRates
from quantdesk.lake.layout import SeriesFile, decode_symbol, series_dir
from quantdesk.lake.quality import find_gaps, summarise
from quantdesk.lake.quarantine import read_quarantine, write_quarantine
from quantdesk.lake.resample import resample
from quantdesk.lake.series import NumericSeries
from quantdesk.lake.sql import SqlView
from quantdesk.lake.storage import LakePath, open_storage
from quantdesk.lake.validation import CANDLE_SCHEMA, VALUE_COLUMNS, normalise, validate
from quantdesk.metrics import record_lake_rows

if TYPE_CHECKING:
    import duckdb

__all__ = ["Lake", "WriteReport"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteReport:
    """What one `Lake.write` did: rows inserted, updated, unchanged, quarantined; files rewritten."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    files_written: int = 0

    def __add__(self, other: WriteReport) -> WriteReport:
        return WriteReport(
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            quarantined=self.quarantined + other.quarantined,
            files_written=self.files_written + other.files_written,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    version: object
    files: tuple[SeriesFile, ...]


def _merge(existing: pl.DataFrame | None, part: pl.DataFrame) -> tuple[pl.DataFrame | None, int, int, int]:
    """Upsert `part` into `existing`; return (frame to write or None, inserted, updated, unchanged)."""
    if existing is None or existing.height == 0:
        return part, part.height, 0, 0
    joined = part.join(existing, on="ts", how="left", suffix="_old")
    old_missing = joined.get_column("open_old").is_null()
    same = pl.all_horizontal(pl.col(c) == pl.col(f"{c}_old") for c in VALUE_COLUMNS)
    unchanged = int(joined.select((same.fill_null(False)).sum()).item())
    inserted = int(old_missing.sum())
    updated = part.height - inserted - unchanged
    if inserted == 0 and updated == 0:
        return None, 0, 0, unchanged
    merged = pl.concat([existing.join(part, on="ts", how="anti"), part]).sort("ts")
    return merged, inserted, updated, unchanged


class Lake:
    """The candle lake under `root` (default: `QUANTDESK_LAKE_URL`, else `$QUANTDESK_HOME/lake`).

    `root` is a folder or `s3://bucket/prefix` (S3-compatible object storage, see
    `quantdesk.lake.storage`); the same validation, quarantine and reads apply to both.

    Example:
        lake = Lake()
        lake.write(frame, exchange="binance", symbol="BTC/USDT", timeframe="1m")
        lake.candles("BTC/USDT", "1h", start="2024-01-01", end="2024-07-01")
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, clock: Clock | None = None, fsync: bool = False
    ) -> None:
        if root is None:
            settings = get_settings()
            root = settings.lake_url or settings.lake_dir
        self.storage, self.root = open_storage(root)
        self.clock: Clock = clock or SystemClock()
        self.fsync = fsync  # True adds an fsync per file: durable across power loss, slower
        self._listings: dict[LakePath, _Listing] = {}
        self._sql = SqlView()

    def __repr__(self) -> str:
        return f"Lake({self.location!r})"

    @property
    def location(self) -> str:
        """Where the lake is: its folder, or its `s3://bucket/prefix` URL."""
        return self.storage.url(self.root)

    @property
    def funding(self) -> FundingRates:
        """Perpetual futures' funding rates beside the candles (`lake.funding.read(symbol, exchange=...)`)."""
        return FundingRates(self.root, storage=self.storage)

    @property
    def numeric(self) -> NumericSeries:
        """Timestamped numeric series beside the candles (open interest, ratios, imported scores)."""
        return NumericSeries(self.root, storage=self.storage, fsync=self.fsync)

    # -- writing ------------------------------------------------------------------------

    def write(self, frame: Any, *, exchange: str, symbol: str, timeframe: str) -> WriteReport:
        """Upsert candles into one series; bad rows go to the quarantine, good rows are stored.

        Idempotent: writing the same rows again changes no file. Raises `SchemaError` (and
        writes nothing) when the frame lacks the candle contract's columns or types.
        """
        tf_ms = timeframe_ms(timeframe)
        folder = series_dir(self.root, exchange, symbol, timeframe)
        data = normalise(frame)
        now = self.clock.now()
        good, bad = validate(
            data, tf_ms=tf_ms, offset_ms=layout.grid_offset_ms(timeframe), now_ms=self.clock.now_ms()
        )
        write_quarantine(self.root, bad, exchange=exchange, symbol=symbol, timeframe=timeframe, now=now,
                         storage=self.storage)
        if good.height == 0:
            return WriteReport(quarantined=bad.height)
        # good is sorted by ts, so each period is a zero-copy slice.
        ts_ms = good.get_column("ts").to_physical().to_numpy()
        periods = layout.split_periods(ts_ms, layout.uses_month_files(timeframe))
        with self.storage.lock(folder):
            jobs = [(folder / f"{stem}.parquet", good.slice(lo, hi - lo)) for stem, lo, hi in periods]
            if len(jobs) == 1:
                results = [self._upsert_file(*jobs[0])]
            else:  # polars releases the GIL while encoding, so months are written in parallel
                with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
                    results = list(pool.map(lambda job: self._upsert_file(*job), jobs))
        self._listings.pop(folder, None)
        report = WriteReport(quarantined=bad.height)
        for result in results:
            report = report + result
        record_lake_rows(exchange=exchange, timeframe=timeframe, rows=report.inserted + report.updated)
        return report

    def _upsert_file(self, path: LakePath, part: pl.DataFrame) -> WriteReport:
        existing = self.storage.read_parquet(path) if self.storage.exists(path) else None
        merged, inserted, updated, unchanged = _merge(existing, part)
        if merged is not None:
            self.storage.write_parquet(merged, path, fsync=self.fsync)
        return WriteReport(
            inserted=inserted, updated=updated, unchanged=unchanged, files_written=int(merged is not None)
        )

    # -- listing ------------------------------------------------------------------------

    def _files(self, exchange: str, symbol: str, timeframe: str) -> tuple[SeriesFile, ...]:
        """List a series' files, re-reading the folder only when it changed (local: its mtime)."""
        folder = series_dir(self.root, exchange, symbol, timeframe)
        version = self.storage.version(folder)
        cached = self._listings.get(folder)
        if version is None or cached is None or cached.version != version:
            cached = _Listing(version=version, files=tuple(layout.series_files(self.storage.files(folder))))
            if version is not None:  # None: no such folder, or storage without a cheap change marker (S3)
                self._listings[folder] = cached
        return cached.files

    def change_marker(self) -> tuple[tuple[tuple[str, str, str], Hashable | None], ...]:
        """Return each series with its folder's change marker (None where storage has none, e.g. S3).

        Equal markers: no series gained, lost or rewrote a file in between. The markers are the
        ones `series()` just read to list the folders, not a second look at each.
        """
        return tuple((key, getattr(self._listings.get(series_dir(self.root, *key)), "version", None))
                     for key in self.series())

    def series(self) -> list[tuple[str, str, str]]:
        """Return every stored (exchange, symbol, timeframe), sorted."""
        found: list[tuple[str, str, str]] = []
        subdirs = self.storage.subdirs
        for ex in subdirs(self.root, "exchange="):
            exchange = decode_symbol(ex.name.removeprefix("exchange="))
            for sym in subdirs(ex, "symbol="):
                symbol = decode_symbol(sym.name.removeprefix("symbol="))
                for tf in subdirs(sym, "timeframe="):
                    timeframe = tf.name.removeprefix("timeframe=")
                    if self._files(exchange, symbol, timeframe):
                        found.append((exchange, symbol, timeframe))
        return sorted(found, key=lambda s: (s[0], s[1], timeframe_ms(s[2])))

    def exchanges(self, symbol: str | None = None) -> list[str]:
        """Return the exchanges in the lake (those holding `symbol`, if given)."""
        return sorted({ex for ex, sym, _tf in self.series() if symbol is None or sym == symbol})

    def symbols(self, exchange: str | None = None) -> list[str]:
        """Return the symbols in the lake (on `exchange`, if given)."""
        return sorted({sym for ex, sym, _tf in self.series() if exchange is None or ex == exchange})

    def timeframes(self, symbol: str, exchange: str) -> list[str]:
        """Return the stored timeframes of one symbol, finest first."""
        folder = series_dir(self.root, exchange, symbol, "1m").parent
        stored = [p.name.removeprefix("timeframe=") for p in self.storage.subdirs(folder, "timeframe=")]
        return sorted((tf for tf in stored if self._files(exchange, symbol, tf)), key=timeframe_ms)

    def _resolve_exchange(self, symbol: str, exchange: str | None) -> str:
        if exchange is not None:
            return exchange
        holders = self.exchanges(symbol)
        if len(holders) == 1:
            return holders[0]
        if not holders:
            raise LakeError(
                f"no candles for {symbol!r} in the lake at {self.location}; "
                "run `quantdesk sample` or `quantdesk ingest` first, or check the symbol (e.g. 'BTC/USDT')"
            )
        raise LakeError(f"{symbol!r} is stored for several exchanges {holders}: pass exchange=")

    # -- reading ------------------------------------------------------------------------

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: str | datetime | int | None = None,
        end: str | datetime | int | None = None,
        *,
        exchange: str | None = None,
        complete_only: bool = False,
    ) -> pl.DataFrame:
        """Return candles in [start, end), resampled from the finest stored timeframe if needed.

        A stored timeframe comes back as stored. A resampled one is built from the source
        bars present in each bucket, as exchanges build theirs, with two more columns:
        `source_bars` (filter thin buckets with it) and `forming` (the bucket's period has
        not ended by the lake's clock). `complete_only=True` keeps only buckets with every
        source bar stored, never the forming one. See `quantdesk.lake.resample`.
        """
        exchange = self._resolve_exchange(symbol, exchange)
        target_ms = timeframe_ms(timeframe)
        source = timeframe if self._files(exchange, symbol, timeframe) else None
        if source is None:
            finer = [tf for tf in self.timeframes(symbol, exchange) if target_ms % timeframe_ms(tf) == 0]
            if not finer:
                raise LakeError(
                    f"no {timeframe} candles for {symbol} on {exchange}, and no finer timeframe to build them "
                    f"from (stored: {self.timeframes(symbol, exchange) or 'none'}); ingest 1m candles first"
                )
            source = finer[0]
        scan = self._scan(exchange, symbol, source, *check_window(start, end, names=("start", "end")))
        if source == timeframe:
            return scan.collect()
        return resample(scan, source=source, target=timeframe, now_ms=self.clock.now_ms(),
                        complete_only=complete_only)

    def _scan(
        self, exchange: str, symbol: str, timeframe: str, start: datetime | None, end: datetime | None
    ) -> pl.LazyFrame:
        start_ms = int(start.timestamp() * 1000) if start else None
        end_ms = int(end.timestamp() * 1000) if end else None
        files = [
            f.path
            for f in self._files(exchange, symbol, timeframe)
            if (start_ms is None or f.end_ms > start_ms) and (end_ms is None or f.start_ms < end_ms)
        ]
        if not files:
            return pl.LazyFrame(schema=CANDLE_SCHEMA)
        scan = self.storage.scan_parquet(files)
        if start is not None:
            scan = scan.filter(pl.col("ts") >= start)
        if end is not None:
            scan = scan.filter(pl.col("ts") < end)
        return scan

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run DuckDB SQL over the `candles` view (exchange, symbol, timeframe, ts, OHLCV) of every file.

        A `quarantine` view holds the quarantined rows with their reason, and a `series` view the
        numeric series (exchange, symbol, name, ts, value).
        """
        listing = {key: self._files(*key) for key in self.series()}
        return self._sql.query(query, listing, self.root, self.storage)

    def coverage(self) -> pl.DataFrame:
        """Return one row per series: first, last, rows, gaps, missing_bars, quarantined, synthetic."""
        quarantined = self.quarantine().group_by("exchange", "symbol", "timeframe").len("quarantined")
        rows = []
        for exchange, symbol, timeframe in self.series():
            ts = self._scan(exchange, symbol, timeframe, None, None).select("ts").collect().get_column("ts")
            summary = summarise(ts, timeframe_ms(timeframe))
            rows.append({"exchange": exchange, "symbol": symbol, "timeframe": timeframe, **summary})
        schema = {
            "exchange": pl.String, "symbol": pl.String, "timeframe": pl.String,
            "first": pl.Datetime("ms", "UTC"), "last": pl.Datetime("ms", "UTC"),
            "rows": pl.Int64, "gaps": pl.Int64, "missing_bars": pl.Int64,
        }  # fmt: skip
        frame = pl.DataFrame(rows, schema=schema)
        return (
            frame.join(quarantined, on=["exchange", "symbol", "timeframe"], how="left")
            .with_columns(
                pl.col("quarantined").fill_null(0).cast(pl.Int64),
                synthetic=pl.col("exchange") == "synthetic",
            )
        )

    def gaps(self, symbol: str, timeframe: str, *, exchange: str | None = None) -> pl.DataFrame:
        """Return the gaps of a series: `start` (first missing bar), `end` (next bar), `missing_bars`.

        For a resampled timeframe, a bucket that misses any source bar counts as missing.
        """
        frame = self.candles(symbol, timeframe, exchange=exchange, complete_only=True)
        return find_gaps(frame.get_column("ts"), timeframe_ms(timeframe))

    def quarantine(
        self, symbol: str | None = None, timeframe: str | None = None, *, exchange: str | None = None
    ) -> pl.DataFrame:
        """Return quarantined rows (series, ts, OHLCV, reason, quarantined_at), optionally filtered."""
        return read_quarantine(self.root, exchange=exchange, symbol=symbol, timeframe=timeframe,
                               storage=self.storage)
