"""Where the lake keeps its files.

A series (exchange, symbol, timeframe) lives in one folder of hive partitions::

    <root>/exchange=binance/symbol=BTC%2FUSDT/timeframe=1m/2024-01.parquet

Path values are percent-encoded with `urllib.parse.quote(value, safe="")`, so the rule is
reversible and unambiguous: `BTC/USDT` -> `BTC%2FUSDT`, `XRP/USDT:USDT` ->
`XRP%2FUSDT%3AUSDT` (letters, digits and `_.-~` stay as they are).

The time partition is the file name: one file per calendar month (`2024-01.parquet`) for
timeframes shorter than a day, one per year (`2024.parquet`) for a day and longer. That
keeps files large (44,640 rows for a month of 1m) and few, and an upsert rewrites only the
months it touches. Temporary files start with a dot and are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from quantdesk.core.errors import LakeError
from quantdesk.core.timeframes import timeframe_ms

__all__ = [
    "QUARANTINE_DIR",
    "SeriesFile",
    "decode_symbol",
    "encode_symbol",
    "grid_offset_ms",
    "period_bounds_ms",
    "period_of",
    "series_dir",
    "series_files",
    "split_periods",
    "uses_month_files",
]

QUARANTINE_DIR = "_quarantine"
DAY_MS = 86_400_000
# ccxt weeks open on Monday; the epoch (1970-01-01) was a Thursday, 4 days later than a Monday.
_WEEK_OFFSET_MS = 4 * DAY_MS


def encode_symbol(value: str) -> str:
    """Encode a symbol (or exchange) for use in a path: `BTC/USDT` -> `BTC%2FUSDT`."""
    if not value or not value.strip():
        raise LakeError(f"empty name {value!r}: pass a symbol like 'BTC/USDT' and an exchange like 'binance'")
    return quote(value, safe="")


def decode_symbol(value: str) -> str:
    """Invert `encode_symbol`: `BTC%2FUSDT` -> `BTC/USDT`."""
    return unquote(value)


def grid_offset_ms(timeframe: str) -> int:
    """Return the offset of the timeframe's grid from the epoch (weeks open on Monday)."""
    return _WEEK_OFFSET_MS if timeframe.endswith("w") else 0


def uses_month_files(timeframe: str) -> bool:
    """Return True when a series of this timeframe is stored one file per month (else per year)."""
    return timeframe_ms(timeframe) < DAY_MS


def series_dir(root: Path, exchange: str, symbol: str, timeframe: str) -> Path:
    """Return the folder that holds one series."""
    timeframe_ms(timeframe)  # refuse unknown timeframes before touching the disk
    return (
        root
        / f"exchange={encode_symbol(exchange)}"
        / f"symbol={encode_symbol(symbol)}"
        / f"timeframe={timeframe}"
    )


def period_of(ts_ms: int, monthly: bool) -> str:
    """Return the file stem (`2024-01` or `2024`) of the period holding `ts_ms`."""
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return f"{moment.year:04d}-{moment.month:02d}" if monthly else f"{moment.year:04d}"


def split_periods(ts_ms: np.ndarray, monthly: bool) -> list[tuple[str, int, int]]:
    """Cut sorted epoch-ms values into periods; return (file stem, first row, end row) per period."""
    if ts_ms.size == 0:
        return []
    first = datetime.fromtimestamp(int(ts_ms[0]) / 1000, UTC)
    last = datetime.fromtimestamp(int(ts_ms[-1]) / 1000, UTC)
    stems: list[str] = []
    year, month = first.year, first.month if monthly else 1
    while (year, month) <= (last.year, last.month if monthly else 1):
        stems.append(f"{year:04d}-{month:02d}" if monthly else f"{year:04d}")
        year, month = (year + month // 12, month % 12 + 1) if monthly else (year + 1, 1)
    starts = np.array([period_bounds_ms(stem)[0] for stem in stems], dtype=np.int64)
    cuts = np.searchsorted(ts_ms, starts, side="left").tolist() + [ts_ms.size]
    return [(stem, cuts[i], cuts[i + 1]) for i, stem in enumerate(stems) if cuts[i + 1] > cuts[i]]


def period_bounds_ms(stem: str) -> tuple[int, int]:
    """Return [start, end) in epoch ms of the period named by a file stem."""
    if len(stem) == 7:
        year, month = int(stem[:4]), int(stem[5:])
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    else:
        year = int(stem)
        start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesFile:
    """One Parquet file of a series and the time range its name covers."""

    path: Path
    start_ms: int
    end_ms: int


def series_files(paths: list[Any]) -> list[SeriesFile]:
    """Keep the series data files among `paths` (local or object-store paths), in time order."""
    files: list[SeriesFile] = []
    for path in paths:
        name = path.name
        if name.startswith(".") or not name.endswith(".parquet"):
            continue
        stem = name[: -len(".parquet")]
        try:
            start, end = period_bounds_ms(stem)
        except ValueError:
            continue  # not one of ours; never guess what a foreign file holds
        files.append(SeriesFile(path=path, start_ms=start, end_ms=end))
    files.sort(key=lambda f: f.start_ms)
    return files
