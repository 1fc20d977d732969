"""A strategy as a quant writes it in a file (bench/sweep_targets.py sweeps it): fade z-score extremes."""

import polars as pl

from quantdesk.indicators import ema, zscore
from quantdesk.strategies import Strategy, param


class ZscoreFade(Strategy):
    window = param(60, min=5, max=2000, doc="z-score window, bars")
    entry = param(2.0, min=0.5, max=5.0, doc="enter against moves beyond this many deviations")
    trend = param(200, min=10, max=5000, doc="only fade in the direction of this EMA's slope")

    @property
    def warmup(self) -> int:
        return self.window + self.trend * 10

    def target(self, candles: pl.DataFrame) -> pl.Series:
        z = zscore(candles["close"], self.window)
        slope_up = ema(candles["close"], self.trend).diff() > 0
        return (
            pl.select(
                pl.when((z < -self.entry) & slope_up).then(1.0)
                .when((z > self.entry) & ~slope_up).then(0.0)
                .otherwise(None)
                .forward_fill()
                .fill_null(0.0)
            ).to_series()
        )
