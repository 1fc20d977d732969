"""Timestamped numeric series beside the candles: open interest, long/short ratios, taker volumes, scores.

A series is one number per timestamp, named within a market (exchange, symbol). It lives in the
lake under hive partitions of its own, one Parquet file per calendar month as candles do::

    <root>/_series/exchange=binanceusdm/symbol=XRP%2FUSDT%3AUSDT/name=open_interest/2024-01.parquet

Columns: `ts` (Datetime ms, UTC: when the value was observed or the period it covers opened,
as the source stamped it; series need not sit on a candle grid) and `value` (Float64, finite).
A write checks the whole frame first (timestamps parse, none repeats, every value is a finite
number) and raises `DataError` without touching a file when anything is wrong; good frames are
upserted on `ts` under the series lock (same values: no file rewritten; new values replace
old ones), month by month, each file replaced atomically. So a rerun of the same write is
free, and an interrupted multi-month write leaves whole months, never half a file.

Reading: `read_series(root, exchange, symbol, name, start, end)` or, with a `Lake` at hand,
`lake.numeric.read(...)`. Both return `ts, value` in [start, end), oldest first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError, LakeError
from quantdesk.core.timeframes import check_window
from quantdesk.lake import layout
from quantdesk.lake.layout import decode_symbol, encode_symbol
from quantdesk.lake.storage import LakePath, LocalStorage, Storage, open_storage

__all__ = [
    "SERIES_DIR",
    "SERIES_SCHEMA",
    "NumericSeries",
    "SeriesWrite",
    "check_series_name",
    "list_series",
    "read_series",
    "write_series",
]

SERIES_DIR = "_series"
SERIES_SCHEMA = {"ts": pl.Datetime("ms", "UTC"), "value": pl.Float64}
# Names become folder names and feature names: keep them plain (letters, digits, _ . - @).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_series_name(name: str) -> str:
    """Return `name` if it is a valid series name, else raise `DataError` saying what is allowed."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataError(
            f"series name {name!r} is not allowed: use 1-64 letters, digits, '_', '.', '-' or '@', "
            "starting with a letter or digit (e.g. open_interest, fear_greed)"
        )
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesWrite:
    """What one write did: points inserted, changed, already stored; files rewritten."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    files_written: int = 0

    def __add__(self, other: SeriesWrite) -> SeriesWrite:
        return SeriesWrite(inserted=self.inserted + other.inserted, updated=self.updated + other.updated,
                           unchanged=self.unchanged + other.unchanged,
                           files_written=self.files_written + other.files_written)


def normalise_series(frame: Any, *, what: str) -> pl.DataFrame:
    """Return `frame` as the series contract (`ts` ms UTC, `value` Float64, sorted), or raise `DataError`.

    `ts` may be epoch milliseconds (integers), datetimes (naive ones are UTC) or ISO strings;
    `value` anything that casts to a finite float. `what` names the series in messages.
    """
    data = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    missing = {"ts", "value"} - set(data.columns)
    if missing:
        raise DataError(f"{what}: a series needs columns ts and value; missing {sorted(missing)}. Nothing was written.")
    ts = _parse_ts(data["ts"], what)
    value = _parse_values(data["value"], ts, what)
    out = pl.DataFrame({"ts": ts, "value": value})
    duplicated = out.filter(pl.col("ts").is_duplicated())
    if duplicated.height:
        raise DataError(
            f"{what}: {duplicated['ts'].n_unique()} timestamp(s) repeat (first: {duplicated['ts'].min()}); "
            "keep one value per timestamp (e.g. the last) and import again. Nothing was written."
        )
    return out.sort("ts")


def _parse_ts(ts: pl.Series, what: str) -> pl.Series:
    if ts.dtype.is_integer():
        ts = ts.cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    elif ts.dtype == pl.String:
        parsed = _parse_text_times(ts)
        bad = ts.filter(parsed.is_null() & ts.is_not_null())
        if bad.len():
            raise DataError(
                f"{what}: {bad.len()} timestamp(s) do not parse (first: {bad[0]!r}); write ISO times like "
                "2024-01-01T00:00:00Z or epoch milliseconds. Nothing was written."
            )
        ts = parsed
    elif isinstance(ts.dtype, pl.Datetime):
        ts = ts.dt.cast_time_unit("ms")
        ts = ts.dt.replace_time_zone("UTC") if ts.dtype.time_zone is None else ts.dt.convert_time_zone("UTC")
    elif ts.dtype == pl.Date:
        ts = ts.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    else:
        raise DataError(f"{what}: timestamps must be epoch milliseconds, datetimes or ISO strings, got {ts.dtype}. "
                        "Nothing was written.")
    if ts.null_count():
        raise DataError(f"{what}: {ts.null_count()} row(s) have no timestamp; drop them or fill them in. "
                        "Nothing was written.")
    return ts.alias("ts")


def _parse_text_times(text: pl.Series) -> pl.Series:
    # polars infers one format from the first value; a column mixing `2024-01-01` and
    # `2024-01-01T08:00:00Z` is parsed in passes, each inferring from the first value still unparsed
    parsed = text.str.to_datetime(time_unit="ms", strict=False, time_zone="UTC")
    for _ in range(4):
        left = parsed.is_null() & text.is_not_null()
        if not left.any():
            break
        retry = text.filter(left).str.to_datetime(time_unit="ms", strict=False, time_zone="UTC")
        if retry.null_count() == retry.len():
            break
        parsed = parsed.clone().scatter(left.arg_true(), retry)
    return parsed


def _parse_values(value: pl.Series, ts: pl.Series, what: str) -> pl.Series:
    if value.dtype == pl.String:
        cast = value.str.strip_chars().cast(pl.Float64, strict=False)
    elif value.dtype.is_numeric() or value.dtype == pl.Boolean:
        cast = value.cast(pl.Float64)
    else:
        raise DataError(f"{what}: values must be numbers, got {value.dtype}; pick a numeric column. "
                        "Nothing was written.")
    bad = cast.is_null() | ~cast.is_finite().fill_null(False)
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise DataError(
            f"{what}: {int(bad.sum())} value(s) are not finite numbers (first: {value[i]!r} at {ts[i]}); "
            "clean or drop those rows and import again. Nothing was written."
        )
    return cast.alias("value")


class NumericSeries:
    """The lake's numeric series: `write`, `read`, `series` (see the module doc)."""

    def __init__(self, root: LakePath, *, storage: Storage | None = None, fsync: bool = False) -> None:
        self.storage = storage or LocalStorage()
        self.root = (root if isinstance(root, PurePath) else Path(root)) / SERIES_DIR
        self.fsync = fsync

    def _folder(self, exchange: str, symbol: str, name: str) -> LakePath:
        return (self.root / f"exchange={encode_symbol(exchange)}" / f"symbol={encode_symbol(symbol)}"
                / f"name={check_series_name(name)}")

    def write(self, frame: Any, *, exchange: str, symbol: str, name: str) -> SeriesWrite:
        """Upsert points (`ts`, `value`) into one series; raise `DataError` and write nothing on bad input."""
        folder = self._folder(exchange, symbol, name)
        data = normalise_series(frame, what=f"series {name} of {symbol} on {exchange}")
        if data.height == 0:
            return SeriesWrite()
        periods = layout.split_periods(data["ts"].to_physical().to_numpy(), True)
        report = SeriesWrite()
        with self.storage.lock(folder):
            for stem, lo, hi in periods:
                report = report + self._upsert(folder / f"{stem}.parquet", data.slice(lo, hi - lo))
        return report

    def _upsert(self, path: LakePath, part: pl.DataFrame) -> SeriesWrite:
        existing = self.storage.read_parquet(path) if self.storage.exists(path) else None
        if existing is None or existing.height == 0:
            self.storage.write_parquet(part, path, fsync=self.fsync)
            return SeriesWrite(inserted=part.height, files_written=1)
        joined = part.join(existing.rename({"value": "old"}), on="ts", how="left")
        known = joined.filter(pl.col("old").is_not_null())
        unchanged = known.filter(pl.col("old") == pl.col("value")).height
        updated, inserted = known.height - unchanged, part.height - known.height
        if inserted == 0 and updated == 0:
            return SeriesWrite(unchanged=unchanged)
        merged = pl.concat([existing.join(part, on="ts", how="anti"), part]).sort("ts")
        self.storage.write_parquet(merged, path, fsync=self.fsync)
        return SeriesWrite(inserted=inserted, updated=updated, unchanged=unchanged, files_written=1)

    def read(self, name: str, *, exchange: str, symbol: str, start: datetime | str | int | None = None,
             end: datetime | str | int | None = None) -> pl.DataFrame:
        """Return `ts, value` in [start, end), oldest first (empty, with the schema, when none is stored)."""
        lo, hi = check_window(start, end)
        lo_ms = None if lo is None else int(lo.timestamp() * 1000)
        hi_ms = None if hi is None else int(hi.timestamp() * 1000)
        files = [f.path for f in layout.series_files(self.storage.files(self._folder(exchange, symbol, name)))
                 if (lo_ms is None or f.end_ms > lo_ms) and (hi_ms is None or f.start_ms < hi_ms)]
        if not files:
            return pl.DataFrame(schema=SERIES_SCHEMA)
        scan = self.storage.scan_parquet(files)
        if lo is not None:
            scan = scan.filter(pl.col("ts") >= lo)
        if hi is not None:
            scan = scan.filter(pl.col("ts") < hi)
        return scan.collect().sort("ts")

    def last_ts_ms(self, name: str, *, exchange: str, symbol: str) -> int | None:
        """Return the newest stored timestamp (epoch ms) of a series, or None (what a resume starts after)."""
        files = layout.series_files(self.storage.files(self._folder(exchange, symbol, name)))
        if not files:
            return None
        newest = self.storage.read_parquet(files[-1].path)["ts"].max()
        return None if newest is None else int(newest.timestamp() * 1000)  # type: ignore[union-attr]

    def change_marker(self) -> tuple[tuple[tuple[str, str, str], object | None], ...]:
        """Return each stored series with its folder's change marker (None where storage has none, e.g. S3)."""
        return tuple((key, self.storage.version(self._folder(*key))) for key in self.series())

    def series(self, exchange: str | None = None, symbol: str | None = None) -> list[tuple[str, str, str]]:
        """Return every stored (exchange, symbol, name), sorted, optionally for one exchange and symbol."""
        found: list[tuple[str, str, str]] = []
        for ex in self.storage.subdirs(self.root, "exchange="):
            ex_name = decode_symbol(ex.name.removeprefix("exchange="))
            if exchange is not None and ex_name != exchange:
                continue
            for sym in self.storage.subdirs(ex, "symbol="):
                sym_name = decode_symbol(sym.name.removeprefix("symbol="))
                if symbol is not None and sym_name != symbol:
                    continue
                for folder in self.storage.subdirs(sym, "name="):
                    if layout.series_files(self.storage.files(folder)):
                        found.append((ex_name, sym_name, folder.name.removeprefix("name=")))
        return sorted(found)


def _open(root: str | os.PathLike[str] | Any) -> NumericSeries:
    if hasattr(root, "numeric") and not isinstance(root, str | os.PathLike):
        return root.numeric  # a Lake
    storage, path = open_storage(root)
    return NumericSeries(path, storage=storage)


def write_series(root: str | os.PathLike[str] | Any, frame: Any, *, exchange: str, symbol: str,
                 name: str) -> SeriesWrite:
    """Upsert `frame` (`ts`, `value`) into the series `name` of (exchange, symbol) in the lake at `root`.

    `root` is a lake folder, `s3://bucket/prefix`, or a `Lake`.
    """
    return _open(root).write(frame, exchange=exchange, symbol=symbol, name=name)


def read_series(root: str | os.PathLike[str] | Any, exchange: str, symbol: str, name: str,
                start: datetime | str | int | None = None, end: datetime | str | int | None = None) -> pl.DataFrame:
    """Return the series `name` of (exchange, symbol) as `ts, value` in [start, end), oldest first.

    Raises `LakeError` naming the stored series when there is none by that name, so a typo in a
    feature list fails loudly instead of giving an empty column.
    """
    store = _open(root)
    frame = store.read(name, exchange=exchange, symbol=symbol, start=start, end=end)
    if frame.height == 0 and store.last_ts_ms(name, exchange=exchange, symbol=symbol) is None:
        known = [n for _e, _s, n in store.series(exchange, symbol)]
        hint = f"stored: {', '.join(known)}" if known else "none stored"
        raise LakeError(f"no series {name!r} for {symbol} on {exchange} ({hint}); "
                        "fetch it with `quantdesk ingest ... --sentiment` or `quantdesk import FILE --series NAME`")
    return frame


def list_series(root: str | os.PathLike[str] | Any, exchange: str | None = None,
                symbol: str | None = None) -> list[tuple[str, str, str]]:
    """Return every (exchange, symbol, name) stored in the lake at `root`, sorted."""
    return _open(root).series(exchange, symbol)
