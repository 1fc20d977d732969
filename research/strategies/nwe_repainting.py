"""The popular NWE drawing as a strategy: it REPAINTS, and `quantdesk check lookahead` refuses it.

    quantdesk check lookahead research/strategies/nwe_repainting.py:NweRepainting \\
        --exchange synthetic --symbol BTC/USDT --timeframe 1h      # exits 1: lookahead

The chart indicator smooths each bar with a Gaussian kernel over bars on BOTH sides of it,
so the band at a bar moves when later bars arrive. Backtested, it buys dips "at the bottom"
because it already knows where the bottom was. The causal form, the built-in `nwe`
strategy, weights only the bar and the bars before it. research/04_nwe_repainting.ipynb
shows the two side by side.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from quantdesk import Strategy, param
from quantdesk.indicators import gaussian_weights


def two_sided_kernel(close: np.ndarray, bandwidth: float, window: int) -> np.ndarray:
    """Return sum_j w(t-j) x_j / sum_j w(t-j) over |t-j| < window: past AND future bars."""
    weights = gaussian_weights(bandwidth, window)
    total, norm = np.zeros(len(close)), np.zeros(len(close))
    for lag in range(-(window - 1), window):
        w = weights[abs(lag)]
        lo, hi = max(0, lag), len(close) + min(0, lag)  # t with t - lag inside the series
        total[lo:hi] += w * close[lo - lag : hi - lag]
        norm[lo:hi] += w
    return total / np.where(norm > 0, norm, np.nan)


class NweRepainting(Strategy):
    """Long below the two-sided envelope, flat again at its middle: looks brilliant, trades the future."""

    bandwidth = param(8.0, min=0.5, max=100.0, doc="Gaussian kernel bandwidth h, bars")
    window = param(50, min=2, max=500, doc="bars on each side the kernel reaches")
    mult = param(2.0, min=0.1, max=10.0, doc="band width in mean absolute errors")

    @property
    def warmup(self) -> int:
        return 2 * self.window

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"].cast(pl.Float64).to_numpy()
        middle = two_sided_kernel(close, self.bandwidth, self.window)
        mae = float(np.nanmean(np.abs(close - middle))) * self.mult  # over the whole chart: the future too
        events = np.where(close < middle - mae, 1.0, np.where(close >= middle, 0.0, np.nan))
        return pl.Series("target", events).fill_nan(None).forward_fill().fill_null(0.0)
