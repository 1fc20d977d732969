"""The quarantine: rows that failed validation, kept with their reason under `_quarantine/`.

Each rejected batch becomes one file named by the hash of its rows, so writing the same bad
rows again adds nothing (the quarantine is as idempotent as the lake).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import polars as pl

from quantdesk.lake.layout import QUARANTINE_DIR, decode_symbol, series_dir
from quantdesk.lake.storage import LakePath, LocalStorage, Storage

__all__ = ["QUARANTINE_SCHEMA", "read_quarantine", "write_quarantine"]

QUARANTINE_SCHEMA = pl.Schema(
    {
        "exchange": pl.String(),
        "symbol": pl.String(),
        "timeframe": pl.String(),
        "ts": pl.Datetime("ms", "UTC"),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
        "close": pl.Float64(),
        "volume": pl.Float64(),
        "reason": pl.String(),
        "quarantined_at": pl.Datetime("ms", "UTC"),
    }
)


def write_quarantine(
    root: LakePath, bad: pl.DataFrame, *, exchange: str, symbol: str, timeframe: str, now: datetime,
    storage: Storage | None = None,
) -> None:
    """Store rejected rows (columns ts, OHLCV, reason) unless this exact batch is already stored."""
    if bad.height == 0:
        return
    storage = storage or LocalStorage()
    rows = bad.sort("ts", "reason", nulls_last=True)
    digest = hashlib.sha256(rows.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()[:24]
    target = series_dir(root / QUARANTINE_DIR, exchange, symbol, timeframe) / f"{digest}.parquet"
    if storage.exists(target):
        return
    stamped = rows.with_columns(quarantined_at=pl.lit(now).cast(pl.Datetime("ms", "UTC")))
    storage.write_parquet(stamped, target)


def read_quarantine(
    root: LakePath, *, exchange: str | None = None, symbol: str | None = None, timeframe: str | None = None,
    storage: Storage | None = None,
) -> pl.DataFrame:
    """Return quarantined rows, optionally filtered, sorted by series and ts."""
    storage = storage or LocalStorage()
    base = root / QUARANTINE_DIR
    by_folder: dict[LakePath, list[LakePath]] = {}
    for path in storage.parquet_files_under(base):
        by_folder.setdefault(path.parent, []).append(path)
    frames: list[pl.DataFrame] = []
    for folder, files in sorted(by_folder.items()):
        parts = dict(p.split("=", 1) for p in folder.relative_to(base).parts if "=" in p)
        keys = {k: decode_symbol(v) for k, v in parts.items()}
        wanted = {"exchange": exchange, "symbol": symbol, "timeframe": timeframe}
        if any(value is not None and keys.get(key) != value for key, value in wanted.items()):
            continue
        data = storage.read_parquet(sorted(files))
        frames.append(data.with_columns(**{k: pl.lit(v, pl.String) for k, v in keys.items()}))
    if not frames:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    out = pl.concat([f.select(list(QUARANTINE_SCHEMA)) for f in frames])
    return out.sort("exchange", "symbol", "timeframe", "ts", nulls_last=True)
