"""An example research strategy, loaded by path:

    quantdesk backtest research/strategies/breakout_with_trend.py:BreakoutWithTrend --symbol BTC/USDT

Long on a Donchian breakout, but only while the close is above its slow EMA (trend filter).
"""

from __future__ import annotations

import polars as pl

from quantdesk import Strategy, param
from quantdesk.core import StrategyError
from quantdesk.indicators import ema, rolling_max, rolling_min


class BreakoutWithTrend(Strategy):
    """Donchian breakout entries filtered by a slow EMA trend; exit on the exit channel or trend loss."""

    period = param(48, min=5, max=500, doc="entry channel, bars")
    exit_period = param(24, min=2, max=500, doc="exit channel, bars")
    trend = param(200, min=10, max=2000, doc="trend EMA span, bars")

    def validate(self) -> None:
        if self.exit_period > self.period:
            raise StrategyError(f"exit_period ({self.exit_period}) must not exceed period ({self.period})")

    @property
    def warmup(self) -> int:
        return 4 * self.trend

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        upper = rolling_max(candles["high"], self.period).shift(1)
        lower = rolling_min(candles["low"], self.exit_period).shift(1)
        uptrend = close > ema(close, self.trend)
        events = pl.select(
            pl.when((close > upper) & uptrend).then(1.0)
            .when((close < lower) | ~uptrend).then(0.0)
            .otherwise(None)
            .alias("target")
        )["target"]
        return events.forward_fill().fill_null(0.0)
