"""Lake series as ML features: open interest, long/short ratios, an imported sentiment score.

`LakeSeries(exchange, symbol, name)` is a `FeatureSource`: at each bar it gives the latest value
of the series observed *before the bar closed* (the strategy decides at the close), so a value
stamped inside bar t is used at bar t and one stamped at t's close or later only from bar t+1.
A bar without any earlier observation is null (the model's training drops such rows like any
warm-up). Register one with `use_lake_series("oi", "binanceusdm", "BTC/USDT:USDT",
"open_interest")` and list `src_oi` among the strategy's features.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import polars as pl

from quantdesk.lake import Lake, read_series
from quantdesk.ml.features import register_source

__all__ = ["LakeSeries", "use_lake_series"]


@dataclass(frozen=True, slots=True)
class LakeSeries:
    """A lake series aligned to bar times, causally (see the module's docstring)."""

    exchange: str
    symbol: str
    name: str
    root: str | os.PathLike[str] | Any | None = None  # a lake folder, s3:// URL or Lake; default: the desk's lake

    def __call__(self, ts: pl.Series) -> pl.Series:
        if ts.len() == 0:
            return pl.Series("value", [], dtype=pl.Float64)
        bars = pl.DataFrame({"ts": ts}).with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")))
        steps = bars["ts"].diff().drop_nulls()
        # a bar closes one bar length after it opens; a lone bar is taken as closing when it opens
        length = steps.min() if steps.len() else None
        closes = bars["ts"] + length if length is not None else bars["ts"]
        values = read_series(self.root if self.root is not None else Lake(), self.exchange, self.symbol,
                             self.name, end=closes.max())  # [start, end): nothing stamped at the last close
        # strictly before the close: an observation stamped at the close itself waits one bar
        known = bars.with_columns((closes - pl.duration(milliseconds=1)).alias("known_at"))
        joined = known.sort("known_at").join_asof(values.sort("ts").rename({"ts": "obs_ts"}),
                                                   left_on="known_at", right_on="obs_ts", strategy="backward")
        order = known.with_row_index("_row").sort("known_at")["_row"]
        # back to the bars' own order (join_asof needs sorted keys; bar frames normally are)
        return pl.DataFrame({"_row": order, "value": joined["value"]}).sort("_row")["value"]


def use_lake_series(feature: str, exchange: str, symbol: str, name: str | None = None, *,
                    root: str | os.PathLike[str] | Any | None = None) -> str:
    """Make `src_<feature>` read the lake series `name` (default: `feature`); return the feature's name."""
    register_source(feature, LakeSeries(exchange, symbol, name or feature, root))
    return f"src_{feature}"
