"""Allocation built-ins: multi-asset momentum rotation and the buy-and-hold benchmark."""

from __future__ import annotations

import numpy as np
import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import momentum
from quantdesk.strategies.base import Strategy, param

__all__ = ["BuyAndHold", "MomentumRotation"]


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
        # A bar's momentum reads this close and the one `lookback` bars before: no state.
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
