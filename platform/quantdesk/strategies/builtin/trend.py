"""Trend-following built-ins: moving-average crosses and channel/band breakouts.

Each target at bar t depends only on the last `warmup` bars (DESIGN.md contract 4 and the
live runner's trailing window); each `warmup` says why it is long enough.
"""

from __future__ import annotations

import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import ema, rolling_max, rolling_min, sma_exact, window_mean_std
from quantdesk.strategies.base import Strategy, param
from quantdesk.strategies.builtin._common import hold, settle_bars

__all__ = ["BollingerBreakout", "DonchianBreakout", "EmaCross", "SmaCross"]


class SmaCross(Strategy):
    """Long while the fast simple moving average of the close is above the slow one, else flat."""

    name = "sma_cross"
    fast = param(10, min=2, max=200, doc="fast SMA window, bars")
    slow = param(30, min=5, max=500, doc="slow SMA window, bars")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(f"sma_cross needs fast < slow, got fast={self.fast} slow={self.slow}")

    @property
    def warmup(self) -> int:
        return self.slow

    def target(self, candles: pl.DataFrame) -> pl.Series:
        # The sweep kernel (backtest/sweep_fast.py) uses this exact indicator; keep them in step.
        # Not rolling_mean: its running sum's round-off depends on where the history starts, and
        # where SMA(fast) == SMA(slow) (a flat stretch) the live window would break the tie
        # differently from the backtest. sma_exact sums each window exactly: ties stay ties.
        close = candles["close"]
        return (
            (sma_exact(close, self.fast) > sma_exact(close, self.slow))
            .cast(pl.Float64)
            .fill_null(0.0)
        )


class EmaCross(Strategy):
    """Long while EMA(fast) > EMA(slow); below it short (if `short`) or flat."""

    name = "ema_cross"
    fast = param(12, min=2, max=200, doc="fast EMA span, bars")
    slow = param(26, min=3, max=500, doc="slow EMA span, bars")
    short = param(False, doc="go short when fast < slow instead of flat")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(f"ema_cross needs fast < slow, got fast={self.fast} slow={self.slow}")

    @property
    def warmup(self) -> int:
        # TA-Lib seeds the EMA with the SMA of its first `slow` bars, then recurses with decay
        # (slow - 1) / (slow + 1). The target compares two EMAs, so the window's EMAs must be
        # the backtest's bit for bit, not just close: "4 spans" left a 3e-4 relative seed
        # error, and near a cross that flips the decision. settle_bars() waits until the seed
        # weighs less than 2**-96 (about 33 spans); the fast EMA settles sooner.
        return self.slow + settle_bars((self.slow - 1) / (self.slow + 1))

    def target(self, candles: pl.DataFrame) -> pl.Series:
        # The sweep kernel (backtest/sweep_fast.py) uses this exact indicator; keep them in step.
        fast, slow = ema(candles["close"], self.fast), ema(candles["close"], self.slow)
        below = -1.0 if self.short else 0.0
        out = pl.select(
            pl.when(fast > slow).then(1.0).when(fast < slow).then(below).otherwise(0.0).alias("target")
        )["target"]
        return out.fill_null(0.0)


class DonchianBreakout(Strategy):
    """Long when the close breaks above the prior `period`-bar high; exit below the prior `exit_period`-bar low.

    With `short`, the mirror image: short below the prior low, cover above the prior `exit_period` high.
    A position with no fresh breakout for `max_hold` bars is closed, which bounds how far back
    the target depends on history (the contract the live runner's trailing window relies on).
    """

    name = "donchian_breakout"
    period = param(20, min=2, max=500, doc="entry channel, bars")
    exit_period = param(10, min=2, max=500, doc="exit channel, bars")
    short = param(False, doc="trade downside breakouts short")
    max_hold = param(
        200, min=1, max=5000,
        doc="bars a position is held without a fresh breakout before it is closed; bounds the memory",
    )

    @property
    def warmup(self) -> int:
        # The held state reaches back `max_hold` bars (twice with `short`: entries, then exits),
        # and each event needs the channel of the bars before it. Channels are max/min: exact.
        holds = 2 if self.short else 1
        return max(self.period, self.exit_period) + 1 + holds * self.max_hold

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close, high, low = candles["close"], candles["high"], candles["low"]
        # The channel of the bars before this one: a close cannot break its own high.
        upper = rolling_max(high, self.period).shift(1)
        lower = rolling_min(low, self.period).shift(1)
        exit_low = rolling_min(low, self.exit_period).shift(1)
        exit_high = rolling_max(high, self.exit_period).shift(1)
        if self.short:
            expr = (
                pl.when(close > upper).then(1.0).when(close < lower).then(-1.0).otherwise(None)
            )
            entries = pl.select(expr.alias("e"))["e"]
            state = hold(entries, self.max_hold)
            # Exits: a long leaves below the exit low, a short leaves above the exit high.
            exits = ((state > 0) & (close < exit_low)) | ((state < 0) & (close > exit_high))
            events = pl.select(
                pl.when(close > upper).then(1.0).when(close < lower).then(-1.0)
                .when(exits).then(0.0).otherwise(None).alias("e")
            )["e"]
            return hold(events, self.max_hold)
        events = pl.select(
            pl.when(close > upper).then(1.0).when(close < exit_low).then(0.0).otherwise(None).alias("e")
        )["e"]
        return hold(events, self.max_hold)


class BollingerBreakout(Strategy):
    """Long when the close breaks above the upper Bollinger band; exit when it crosses the middle.

    With `short`, the mirror image below the lower band. A position with no fresh breakout for
    `max_hold` bars is closed, which bounds how far back the target depends on history.
    """

    name = "bollinger_breakout"
    period = param(20, min=2, max=500, doc="band window, bars")
    num_std = param(2.0, min=0.5, max=5.0, doc="band width in standard deviations")
    short = param(False, doc="trade downside breakouts short")
    max_hold = param(
        200, min=1, max=5000,
        doc="bars a position is held without a fresh breakout before it is closed; bounds the memory",
    )

    @property
    def warmup(self) -> int:
        # The held state reaches back `max_hold` bars; an event compares this bar and the one
        # before with bands of `period` bars each. The bands are summed per window (exact).
        return self.period + self.max_hold + 1

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        # Not TA-Lib BBANDS: its running sums make the band's last bits depend on where the
        # history starts, and the live runner's window starts elsewhere than the backtest.
        middle, std = window_mean_std(close, self.period)
        upper, lower = middle + self.num_std * std, middle - self.num_std * std
        below = -1.0 if self.short else 0.0
        # Entries win over exits; between the bands the last decision holds (up to max_hold).
        events = pl.select(
            pl.when(close > upper).then(1.0)
            .when(close < lower).then(below)
            .when((close - middle).sign() != (close.shift(1) - middle.shift(1)).sign())
            .then(0.0)
            .otherwise(None)
            .alias("e")
        )["e"]
        return hold(events, self.max_hold)
