"""Funding rates of perpetual futures, kept in the lake beside the candles.

A funding rate is not a candle (one number every 8 h, stamped a few milliseconds after the
boundary by the exchange), so it has its own table per series instead of squeezing into the
candle schema::

    <root>/_funding/exchange=binanceusdm/symbol=XRP%2FUSDT%3AUSDT/funding.parquet

Columns: `ts` (the exchange's settlement time, UTC, milliseconds, kept as the exchange stamped
it: jitter included) and `rate` (a fraction per funding interval; 0.0001 = 0.01 %, positive:
longs pay shorts). Writes upsert on `ts` under the series lock and replace the file
atomically, so a crash never leaves half a table. Mark-price candles are ordinary candle
series named `<symbol>@mark` (what `quantdesk import` makes of freqtrade's `-mark` files).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import check_window
from quantdesk.lake.layout import decode_symbol, encode_symbol
from quantdesk.lake.storage import LakePath, LocalStorage, Storage

__all__ = ["FUNDING_DIR", "FUNDING_SCHEMA", "FundingRates", "FundingWrite", "mark_symbol"]

FUNDING_DIR = "_funding"
FUNDING_SCHEMA = {"ts": pl.Datetime("ms", "UTC"), "rate": pl.Float64}
# Binance caps USDT-M funding at ±3 % per interval on its most volatile contracts; a rate
# beyond ±10 % is a unit mistake (a percentage written as a fraction), not a market.
MAX_ABS_RATE = 0.1


def mark_symbol(symbol: str) -> str:
    """Return the candle-series name of a symbol's mark price: `XRP/USDT:USDT@mark`."""
    return f"{symbol}@mark"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingWrite:
    """What one `FundingRates.write` did."""

    inserted: int
    updated: int
    unchanged: int


class FundingRates:
    """The lake's funding-rate tables: `write`, `read`, `series`."""

    def __init__(self, root: LakePath, *, storage: Storage | None = None) -> None:
        self.storage = storage or LocalStorage()
        self.root = (root if isinstance(root, PurePath) else Path(root)) / FUNDING_DIR

    def _path(self, exchange: str, symbol: str) -> LakePath:
        return self.root / f"exchange={encode_symbol(exchange)}" / f"symbol={encode_symbol(symbol)}" / "funding.parquet"

    def write(self, frame: Any, *, exchange: str, symbol: str) -> FundingWrite:
        """Upsert rates (`ts` as ms integers or UTC datetimes, `rate` as fractions)."""
        part = _normalise(pl.DataFrame(frame) if not isinstance(frame, pl.DataFrame) else frame, symbol)
        path = self._path(exchange, symbol)
        with self.storage.lock(path.parent):
            existing = self.storage.read_parquet(path) if self.storage.exists(path) else None
            if existing is None:
                merged, inserted, updated, unchanged = part, part.height, 0, 0
            else:
                joined = part.join(existing.rename({"rate": "old"}), on="ts", how="left")
                known = joined.filter(pl.col("old").is_not_null())
                unchanged = known.filter(pl.col("old") == pl.col("rate")).height
                updated = known.height - unchanged
                inserted = part.height - known.height
                merged = (pl.concat([existing.join(part, on="ts", how="anti"), part])
                          .sort("ts"))
            if inserted or updated:
                self.storage.write_parquet(merged, path)
        return FundingWrite(inserted=inserted, updated=updated, unchanged=unchanged)

    def read(self, symbol: str, *, exchange: str, start: datetime | str | None = None,
             end: datetime | str | None = None) -> pl.DataFrame:
        """Return `ts, rate` in [start, end), oldest first (empty when the lake holds none)."""
        lo, hi = check_window(start, end)
        path = self._path(exchange, symbol)
        if not self.storage.exists(path):
            return pl.DataFrame(schema=FUNDING_SCHEMA)
        frame = self.storage.read_parquet(path)
        if lo is not None:
            frame = frame.filter(pl.col("ts") >= lo)
        if hi is not None:
            frame = frame.filter(pl.col("ts") < hi)
        return frame.sort("ts")

    def series(self) -> list[tuple[str, str]]:
        """Return every (exchange, symbol) with funding rates in the lake."""
        found: list[tuple[str, str]] = []
        for path in self.storage.parquet_files_under(self.root):
            sym, ex = path.parent, path.parent.parent
            if path.name == "funding.parquet" and sym.name.startswith("symbol=") and ex.name.startswith("exchange="):
                found.append((decode_symbol(ex.name.split("=", 1)[1]), decode_symbol(sym.name.split("=", 1)[1])))
        return sorted(found)


def _normalise(frame: pl.DataFrame, symbol: str) -> pl.DataFrame:
    missing = {"ts", "rate"} - set(frame.columns)
    if missing:
        raise DataError(f"funding rates for {symbol} need columns ts and rate; missing {sorted(missing)}")
    ts = frame["ts"]
    if ts.dtype.is_integer():
        ts = ts.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    elif isinstance(ts.dtype, pl.Datetime):
        ts = ts.dt.cast_time_unit("ms")
        ts = ts.dt.replace_time_zone("UTC") if ts.dtype.time_zone is None else ts.dt.convert_time_zone("UTC")
    else:
        raise DataError(f"funding ts for {symbol} must be epoch milliseconds or datetimes, got {ts.dtype}")
    out = pl.DataFrame({"ts": ts, "rate": frame["rate"].cast(pl.Float64)})
    bad = out.filter(pl.col("rate").is_null() | pl.col("rate").is_nan() | (pl.col("rate").abs() > MAX_ABS_RATE))
    if bad.height:
        first = bad.row(0, named=True)
        raise DataError(
            f"{bad.height} funding rate(s) for {symbol} are missing or beyond ±{MAX_ABS_RATE} "
            f"(first: {first['ts']} rate={first['rate']}): rates are fractions per interval "
            "(0.0001 = 0.01 %); divide percentages by 100. Nothing was written."
        )
    if out["ts"].is_duplicated().any():
        raise DataError(f"funding rates for {symbol} repeat a timestamp; keep one rate per settlement. Nothing was written.")
    return out.sort("ts")
