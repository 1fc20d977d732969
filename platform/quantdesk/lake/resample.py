"""Resampling on read: build a coarser timeframe from a finer stored one.

open = first, high = max, low = min, close = last, volume = sum, `ts` = the bucket's open
time. A bucket is complete when every one of its source bars is stored. Incomplete
buckets (a still-running trailing hour, a day with a gap inside) are dropped by default
or, with `incomplete="mark"`, kept with `bars` and `complete` columns. Gaps are never filled.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from quantdesk.core.errors import LakeError
from quantdesk.core.timeframes import timeframe_ms

__all__ = ["Incomplete", "mark_stored", "resample"]

Incomplete = Literal["drop", "mark"]


def _check(incomplete: str) -> None:
    if incomplete not in ("drop", "mark"):
        raise LakeError(f"incomplete={incomplete!r} is not an option: use 'drop' or 'mark'")


def resample(
    frame: pl.DataFrame | pl.LazyFrame, *, source: str, target: str, incomplete: Incomplete = "drop"
) -> pl.DataFrame:
    """Aggregate candles of timeframe `source` (sorted by ts) into `target` buckets."""
    _check(incomplete)
    source_ms, target_ms = timeframe_ms(source), timeframe_ms(target)
    if target_ms % source_ms:
        raise LakeError(f"cannot build {target} candles from {source}: {target} is not a multiple of {source}")
    expected = target_ms // source_ms
    out = (
        frame.lazy()
        .with_columns(pl.col("ts").set_sorted())
        .group_by_dynamic("ts", every=target, closed="left", label="left", start_by="window")
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.len().cast(pl.UInt32).alias("bars"),
        )
    )
    if incomplete == "drop":
        return out.filter(pl.col("bars") == expected).drop("bars").collect()
    return out.with_columns(complete=pl.col("bars") == expected).collect()


def mark_stored(frame: pl.DataFrame, incomplete: Incomplete) -> pl.DataFrame:
    """Give stored (not resampled) candles the same shape `resample` returns."""
    _check(incomplete)
    if incomplete == "drop":
        return frame
    return frame.with_columns(bars=pl.lit(1, pl.UInt32), complete=pl.lit(True))
