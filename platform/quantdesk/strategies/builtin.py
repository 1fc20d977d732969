"""Built-in strategies; importing this module registers them by name.

Each maps candles to a target exposure in [-1, 1] decided at the bar's close. Bars before
an indicator is defined hold 0 (flat). Stateful rules ("enter on X, hold until Y") are
written as event columns that are forward-filled, so there are no Python loops and the
output at bar t depends only on bars <= t (the lookahead check verifies this).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import bbands, ema, momentum, rolling_max, rolling_min, rsi
from quantdesk.strategies.base import Strategy, param

__all__ = ["BollingerBreakout", "BuyAndHold", "DonchianBreakout", "EmaCross", "MomentumRotation", "RsiReversion", "SmaCross"]


def _hold(events: pl.Series, limit: int | None = None) -> pl.Series:
    """Carry the last event (1, -1, 0) forward, at most `limit` bars; flat before the first event.

    A limit bounds the strategy's memory, so the live runner's trailing window (sized from
    `warmup`) sees every event that still decides today's target.
    """
    return events.cast(pl.Float64).forward_fill(limit=limit).fill_null(0.0).alias("target")


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
        close = candles["close"]
        return (
            (close.rolling_mean(self.fast) > close.rolling_mean(self.slow))
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
        # TA-Lib seeds the EMA with an SMA; after ~4 spans the seed no longer matters.
        return 4 * self.slow

    def target(self, candles: pl.DataFrame) -> pl.Series:
        fast, slow = ema(candles["close"], self.fast), ema(candles["close"], self.slow)
        below = -1.0 if self.short else 0.0
        out = pl.select(
            pl.when(fast > slow).then(1.0).when(fast < slow).then(below).otherwise(0.0).alias("target")
        )["target"]
        return out.fill_null(0.0)


class RsiReversion(Strategy):
    """Buy when RSI falls below `oversold`; exit when it crosses back above `exit_level`.

    With `short`, also sell short above `overbought` and cover when RSI crosses below `exit_level`.
    """

    name = "rsi_reversion"
    period = param(14, min=2, max=100, doc="RSI period, bars")
    oversold = param(30.0, min=1.0, max=50.0, doc="enter long below this RSI")
    overbought = param(70.0, min=50.0, max=99.0, doc="enter short (or stay flat) above this RSI")
    exit_level = param(50.0, min=1.0, max=99.0, doc="exit when RSI crosses this level")
    short = param(False, doc="allow short entries above `overbought`")

    def validate(self) -> None:
        if not self.oversold < self.exit_level < self.overbought:
            raise StrategyError(
                "rsi_reversion needs oversold < exit_level < overbought, got "
                f"{self.oversold} < {self.exit_level} < {self.overbought}"
            )

    @property
    def warmup(self) -> int:
        return 5 * self.period

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
        return _hold(events)


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
        # The held state reaches back `max_hold` bars (twice with `short`: entries, then exits).
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
            state = _hold(entries, self.max_hold)
            # Exits: a long leaves below the exit low, a short leaves above the exit high.
            exits = ((state > 0) & (close < exit_low)) | ((state < 0) & (close > exit_high))
            events = pl.select(
                pl.when(close > upper).then(1.0).when(close < lower).then(-1.0)
                .when(exits).then(0.0).otherwise(None).alias("e")
            )["e"]
            return _hold(events, self.max_hold)
        events = pl.select(
            pl.when(close > upper).then(1.0).when(close < exit_low).then(0.0).otherwise(None).alias("e")
        )["e"]
        return _hold(events, self.max_hold)


class BollingerBreakout(Strategy):
    """Long when the close breaks above the upper Bollinger band; exit when it falls below the middle.

    With `short`, the mirror image below the lower band.
    """

    name = "bollinger_breakout"
    period = param(20, min=2, max=500, doc="band window, bars")
    num_std = param(2.0, min=0.5, max=5.0, doc="band width in standard deviations")
    short = param(False, doc="trade downside breakouts short")

    @property
    def warmup(self) -> int:
        return self.period

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        bands = bbands(close, self.period, self.num_std)
        below = -1.0 if self.short else 0.0
        # Entries win over exits; between the bands the last decision holds.
        events = pl.select(
            pl.when(close > bands.upper).then(1.0)
            .when(close < bands.lower).then(below)
            .when((close - bands.middle).sign() != (close.shift(1) - bands.middle.shift(1)).sign())
            .then(0.0)
            .otherwise(None)
            .alias("e")
        )["e"]
        return _hold(events)


class MomentumRotation(Strategy):
    """Hold the `top` symbols with the best `lookback`-bar return, equally weighted (long only).

    Multi-asset: takes `{symbol: candles}` (aligned on `ts`) and returns `{symbol: target}`;
    the targets of one bar sum to at most 1. Only symbols with a return above `min_return`
    are held, so in a falling market the strategy is in cash.
    """

    name = "momentum_rotation"
    multi_asset = True
    lookback = param(30, min=2, max=1000, doc="momentum lookback, bars")
    top = param(1, min=1, max=50, doc="number of symbols held")
    min_return = param(0.0, min=-1.0, max=10.0, doc="hold only symbols whose momentum exceeds this")

    @property
    def warmup(self) -> int:
        return self.lookback + 1

    def target(self, candles: dict[str, pl.DataFrame]) -> dict[str, pl.Series]:  # type: ignore[override]
        if not isinstance(candles, dict) or not candles:
            raise StrategyError("momentum_rotation needs {symbol: candles} with at least one symbol")
        symbols = list(candles)
        lengths = {len(f) for f in candles.values()}
        if len(lengths) != 1:
            raise StrategyError(f"momentum_rotation needs frames of one length (align on ts), got {sorted(lengths)}")
        mom = np.column_stack(
            [momentum(candles[s]["close"], self.lookback).fill_null(np.nan).to_numpy() for s in symbols]
        )
        # Rank by momentum, best first; undefined momentum sorts last and is never held.
        score = np.where(np.isnan(mom), -np.inf, mom)
        order = np.argsort(-score, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(len(symbols))[None, :].repeat(len(mom), 0), axis=1)
        held = (ranks < self.top) & (score > self.min_return) & np.isfinite(score)
        weights = held / float(self.top)
        return {s: pl.Series(s, weights[:, i], dtype=pl.Float64) for i, s in enumerate(symbols)}


class BuyAndHold(Strategy):
    """Fully long from the first bar on: the benchmark every other strategy should beat."""

    name = "buy_and_hold"

    @property
    def warmup(self) -> int:
        return 1

    def target(self, candles: pl.DataFrame) -> pl.Series:
        return pl.Series("target", [1.0] * len(candles), dtype=pl.Float64)
