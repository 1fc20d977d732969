"""The same symbol from several venues side by side: closes aligned by bar, and the spread in bps."""

from __future__ import annotations

from typing import Any

import polars as pl

from quantdesk.core.errors import LakeError

__all__ = ["cross_venue"]


def cross_venue(lake: Any, symbol: str, timeframe: str, exchanges: list[str] | None = None, *,
                start: Any = None, end: Any = None) -> pl.DataFrame:
    """Return `ts`, `close_<exchange>` per venue and `spread_bps_<exchange>` against the first venue.

    Only bars every venue has are kept (an inner join on open time: a bar missing at one venue
    is no spread); `exchanges` defaults to every exchange in the lake that holds `symbol`.
    spread_bps = (close at the venue / close at the first venue - 1) * 10,000.
    """
    if exchanges is None:
        exchanges = sorted({ex for ex, sym, _tf in lake.series() if sym == symbol})
    if len(exchanges) < 2:
        raise LakeError(f"a cross-venue spread needs {symbol} from two venues or more; the lake has it from "
                        f"{exchanges or 'none'}: ingest it from another venue first")
    frames = []
    for ex in exchanges:
        candles = lake.candles(symbol, timeframe, start=start, end=end, exchange=ex)
        if "forming" in candles.columns:
            candles = candles.filter(~pl.col("forming"))
        frames.append(candles.select("ts", pl.col("close").alias(f"close_{ex}")))
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.join(frame, on="ts", how="inner")
    reference = f"close_{exchanges[0]}"
    return joined.sort("ts").with_columns(
        *[((pl.col(f"close_{ex}") / pl.col(reference) - 1.0) * 1e4).alias(f"spread_bps_{ex}") for ex in exchanges[1:]]
    )
