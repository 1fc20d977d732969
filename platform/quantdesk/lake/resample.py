"""Resampling on read: build a coarser timeframe from a finer stored one.

Each bucket is built from the source bars present, as exchanges build their own candles:
open = first, high = max, low = min, close = last, volume = sum, `ts` = the bucket's open
time. Real minute data has holes (thousands of missing minutes in a year of 2018 Binance
data); dropping every bucket that misses one would leave the coarser series with holes the
exchange's own series does not have. Two columns say how each bucket was built:

- `source_bars`: how many source bars it holds (a full 1h bucket of 1m bars holds 60), so
  a user can filter thin buckets: `candles.filter(pl.col("source_bars") >= 55)`;
- `forming`: the bucket's period has not ended yet (by the lake's clock), so it will still
  change. Backtests and the live runner never trade on it (`closed_candles`).

`complete_only=True` keeps the strict behaviour: only buckets with every source bar stored
(never the forming one). Gaps are never filled.
"""

from __future__ import annotations

import polars as pl

from quantdesk.core.errors import LakeError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.lake.validation import CANDLE_SCHEMA

__all__ = ["closed_candles", "resample"]


def resample(
    frame: pl.DataFrame | pl.LazyFrame, *, source: str, target: str, now_ms: int, complete_only: bool = False
) -> pl.DataFrame:
    """Aggregate candles of timeframe `source` (sorted by ts) into `target` buckets.

    Return the candle columns plus `source_bars` (UInt32) and `forming` (Boolean); with
    `complete_only`, only buckets holding every source bar whose period ended before `now_ms`.
    """
    source_ms, target_ms = timeframe_ms(source), timeframe_ms(target)
    if target_ms % source_ms:
        raise LakeError(f"cannot build {target} candles from {source}: {target} is not a multiple of {source}")
    expected = target_ms // source_ms
    now = pl.lit(now_ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
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
            pl.len().cast(pl.UInt32).alias("source_bars"),
        )
        # `ts + target` is the bucket's end; calendar-aware for months and weeks.
        .with_columns(forming=pl.col("ts").dt.offset_by(target).dt.cast_time_unit("ms") > now)
    )
    if complete_only:
        out = out.filter((pl.col("source_bars") == expected) & ~pl.col("forming"))
    return out.collect()


def closed_candles(frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` without a forming bucket and with the candle columns only (what engines read)."""
    if "forming" in frame.columns:
        frame = frame.filter(~pl.col("forming"))
    return frame.select(list(CANDLE_SCHEMA))
