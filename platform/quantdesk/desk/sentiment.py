"""The market page's sentiment and money-flow panels: lake series lined up with the bars shown.

Each bar gets the newest figure known at its open (an as-of join, so a panel never shows a
value from after the bar opened): the funding rate of the last settlement, open interest and
the long/short account ratio of the last snapshot. The taker buy share of a bar is summed from
the finest stored taker volume series that divides the shown timeframe (buy / (buy + sell)
over the bucket), so it stays right when the page downsamples 1h bars to 4h. Missing series
give null columns, and the page says which are missing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from quantdesk.core.timeframes import timeframe_ms

__all__ = ["SENTIMENT_COLUMNS", "sentiment_columns"]

SENTIMENT_COLUMNS = ("funding_rate", "open_interest", "long_short_ratio", "taker_buy_share")
_TAKER_BUY = "taker_buy_volume_"


def _asof(bars: pl.DataFrame, points: pl.DataFrame, name: str) -> pl.DataFrame:
    if points.is_empty():
        return bars.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
    right = points.select(pl.col("ts").alias("_at"), pl.col(points.columns[1]).cast(pl.Float64).alias(name)).sort("_at")
    return bars.join_asof(right, left_on="ts", right_on="_at", strategy="backward").drop("_at")


def _taker_share(lake: Any, exchange: str, symbol: str, bars: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    shown_ms = timeframe_ms(timeframe)
    stored = sorted((name.removeprefix(_TAKER_BUY) for _e, _s, name in lake.numeric.series(exchange, symbol)
                     if name.startswith(_TAKER_BUY)), key=timeframe_ms)
    source = next((tf for tf in stored if shown_ms % timeframe_ms(tf) == 0), None)
    if source is None or bars.is_empty():
        return bars.with_columns(pl.lit(None, dtype=pl.Float64).alias("taker_buy_share"))
    start, end = bars["ts"].min(), bars["ts"].max() + timedelta(milliseconds=shown_ms)  # type: ignore[operator]
    read = {side: lake.numeric.read(f"taker_{side}_volume_{source}", exchange=exchange, symbol=symbol,
                                    start=start, end=end) for side in ("buy", "sell")}
    both = read["buy"].rename({"value": "buy"}).join(read["sell"].rename({"value": "sell"}), on="ts", how="inner")
    bucket = (pl.col("ts").dt.epoch("ms") // shown_ms * shown_ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    per_bar = (both.group_by(bucket.alias("ts")).agg(pl.col("buy").sum(), pl.col("sell").sum())
               .select("ts", (pl.col("buy") / (pl.col("buy") + pl.col("sell"))).alias("taker_buy_share")))
    return bars.join(per_bar, on="ts", how="left")


def sentiment_columns(lake: Any, *, exchange: str, symbol: str, bars: pl.DataFrame, timeframe: str
                      ) -> tuple[pl.DataFrame, list[str]]:
    """Return `bars` with the SENTIMENT_COLUMNS added, and the names of those the lake has nothing for."""
    out = bars.select("ts").with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    if out.is_empty():
        return bars.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in SENTIMENT_COLUMNS), list(
            SENTIMENT_COLUMNS)
    end = out["ts"].max() + timedelta(milliseconds=1)  # type: ignore[operator]  # through the last bar's open
    funding = lake.funding.read(symbol, exchange=exchange, end=end)
    out = _asof(out, funding.select("ts", "rate"), "funding_rate")
    for name in ("open_interest", "long_short_ratio"):
        out = _asof(out, lake.numeric.read(name, exchange=exchange, symbol=symbol, end=end), name)
    out = _taker_share(lake, exchange, symbol, out, timeframe)
    missing = [c for c in SENTIMENT_COLUMNS if out[c].null_count() == out.height]
    return bars.with_columns(out.select(SENTIMENT_COLUMNS).get_columns()), missing
