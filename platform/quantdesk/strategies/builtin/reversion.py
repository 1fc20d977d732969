"""Mean-reversion built-ins. The target at bar t depends only on the last `warmup` bars."""

from __future__ import annotations

import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import rsi
from quantdesk.strategies.base import Strategy, param
from quantdesk.strategies.builtin._common import hold, settle_bars

__all__ = ["RsiReversion"]


class RsiReversion(Strategy):
    """Buy when RSI falls below `oversold`; exit when it crosses back above `exit_level`.

    With `short`, also sell short above `overbought` and cover when RSI crosses below `exit_level`.
    A position with no fresh entry signal for `max_hold` bars is closed, which bounds how far
    back the target depends on history.
    """

    name = "rsi_reversion"
    period = param(14, min=2, max=100, doc="RSI period, bars")
    oversold = param(30.0, min=1.0, max=50.0, doc="enter long below this RSI")
    overbought = param(70.0, min=50.0, max=99.0, doc="enter short (or stay flat) above this RSI")
    exit_level = param(50.0, min=1.0, max=99.0, doc="exit when RSI crosses this level")
    short = param(False, doc="allow short entries above `overbought`")
    max_hold = param(
        200, min=1, max=5000,
        doc="bars a position is held without a fresh entry signal before it is closed; bounds the memory",
    )

    def validate(self) -> None:
        if not self.oversold < self.exit_level < self.overbought:
            raise StrategyError(
                "rsi_reversion needs oversold < exit_level < overbought, got "
                f"{self.oversold} < {self.exit_level} < {self.overbought}"
            )

    @property
    def warmup(self) -> int:
        # TA-Lib's RSI seeds Wilder's averages with `period` bars, then recurses with decay
        # (period - 1) / period; settle_bars() waits until the window's RSI equals the
        # backtest's bit for bit (a threshold test on an RSI that is merely close can flip).
        # On top: the held state reaches back `max_hold` bars, and a cross compares an RSI
        # with the one of the bar before.
        return self.period + settle_bars((self.period - 1) / self.period) + self.max_hold + 2

    def target(self, candles: pl.DataFrame) -> pl.Series:
        level = rsi(candles["close"], self.period)
        above = level > self.exit_level
        crossed = above != above.shift(1)
        events = pl.select(
            pl.when(level < self.oversold)
            .then(1.0)
            .when(level > self.overbought)
            .then(-1.0 if self.short else 0.0)
            .when(crossed)
            .then(0.0)
            .otherwise(None)
            .alias("e")
        )["e"]
        return hold(events, self.max_hold)
