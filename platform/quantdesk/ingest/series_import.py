"""`import_series()`: one numeric column of a timestamped CSV/Parquet file into the lake as a series.

For data that is not candles: a sentiment score, an on-chain count, another desk's signal.
The file is read whole and checked before anything is stored (see `quantdesk.lake.series`):
a missing column, a timestamp that does not parse or repeats, or a value that is not a number
raises one line naming the fix, and the lake is left as it was.

Timestamps may be ISO text (`2024-01-01T00:00:00Z`, `2024-01-01 08:00`, `2024-01-01`; naive ones
are UTC), datetimes (Parquet), or epoch integers: milliseconds, or seconds when every value is
below 10^11 (10^11 ms is March 1973, long before any market the desk trades).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError
from quantdesk.lake.series import check_series_name, normalise_series

__all__ = ["SeriesImportReport", "import_series", "read_series_file"]

_EPOCH_SECONDS_BELOW = 10**11


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesImportReport:
    """What an import of a series stored."""

    path: str
    exchange: str
    symbol: str
    name: str
    column: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first_ts: datetime | None
    last_ts: datetime | None


def read_series_file(path: str | Path, *, column: str, time_column: str = "ts") -> pl.DataFrame:
    """Return `ts, value` from `column` and `time_column` of a .csv or .parquet file, checked (`DataError`)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file; check the path")
    suffix = "".join(file.suffixes[-2:]) if file.name.endswith(".csv.gz") else file.suffix
    try:
        if suffix in (".csv", ".csv.gz", ".txt"):
            # every column as text: our checks name the bad cell instead of polars' inference failing
            frame = pl.read_csv(file, infer_schema=False)
        elif suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(file)
        else:
            raise DataError(f"{file.name}: a series imports from .csv or .parquet; convert the file or rename it")
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError(f"{file.name} could not be read ({str(e).splitlines()[0]}); check it is a valid "
                        f"{suffix.lstrip('.')} file") from e
    for wanted, option in ((time_column, "--time-column"), (column, "--column")):
        if wanted not in frame.columns:
            raise DataError(f"{file.name} has no column {wanted!r} (columns: {', '.join(frame.columns)}); "
                            f"name one with {option}")
    ts = _epoch_text_to_ints(frame[time_column])
    if ts.dtype.is_integer() and ts.len() and ts.max() < _EPOCH_SECONDS_BELOW:  # type: ignore[operator]
        ts = ts * 1000
    data = pl.DataFrame({"ts": ts, "value": frame[column]})
    return normalise_series(data, what=f"{file.name} column {column!r}")


def _epoch_text_to_ints(ts: pl.Series) -> pl.Series:
    if ts.dtype == pl.String and ts.len() and bool(ts.str.strip_chars().str.contains(r"^\d+$").all()):
        return ts.str.strip_chars().cast(pl.Int64)
    return ts


def import_series(
    path: str | Path,
    *,
    name: str,
    column: str,
    symbol: str,
    exchange: str = "imported",
    time_column: str = "ts",
    lake: Any = None,
) -> SeriesImportReport:
    """Store `column` of `path` as the lake series `name` of (exchange, symbol); nothing on bad input."""
    check_series_name(name)
    if not symbol or not symbol.strip():
        raise DataError("a series belongs to a market: pass --symbol (e.g. BTC/USDT) and --exchange")
    data = read_series_file(path, column=column, time_column=time_column)
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    written = lake.numeric.write(data, exchange=exchange, symbol=symbol, name=name)
    return SeriesImportReport(
        path=str(path), exchange=exchange, symbol=symbol, name=name, column=column, rows=data.height,
        inserted=written.inserted, updated=written.updated, unchanged=written.unchanged,
        first_ts=data["ts"][0] if data.height else None, last_ts=data["ts"][-1] if data.height else None,
    )
