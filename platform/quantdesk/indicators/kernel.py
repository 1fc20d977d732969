"""The Nadaraya-Watson kernel estimator, causal form (the endpoint estimator).

The popular "NWE" drawing smooths each bar with a Gaussian kernel over bars on BOTH sides
of it, so the curve at a bar changes when later bars arrive (it repaints) and a backtest on
it trades on the future. The endpoint estimator weights only the bar itself and the bars
before it: at bar t, yhat_t = sum_i w_i x_{t-i} / sum_i w_i, w_i = exp(-i^2 / (2 h^2)),
i = 0 .. window-1. That is what a trader watching the chart live could have seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators.cache import memoized
from quantdesk.indicators.talib_wrappers import Bands, _check_period, _series, _values
from quantdesk.indicators.window_exact import sma_exact

__all__ = ["gaussian_weights", "nadaraya_watson", "nadaraya_watson_envelope"]


def gaussian_weights(bandwidth: float, window: int) -> np.ndarray:
    """Return the Gaussian kernel weights w_i = exp(-i^2 / (2 bandwidth^2)), i = 0 .. window-1, normalised."""
    if not bandwidth > 0:
        raise StrategyError(f"nadaraya_watson bandwidth {bandwidth!r} must be > 0")
    lags = np.arange(_check_period("nadaraya_watson window", window, 1), dtype=np.float64)
    weights = np.exp(-(lags**2) / (2.0 * float(bandwidth) ** 2))
    return weights / weights.sum()


@memoized
def nadaraya_watson(series: Any, bandwidth: float = 8.0, window: int = 500) -> pl.Series:
    """Return the causal Nadaraya-Watson estimate with a Gaussian kernel; null until `window` bars exist.

    The value at bar t depends on the `window` bars ending at t only, bit for bit: the sum is
    accumulated lag by lag in a fixed order for every bar, so a trailing window reproduces
    the full history's value exactly (the live runner relies on that).
    Example: `nadaraya_watson(candles["close"], bandwidth=8, window=200)`.
    """
    x, name = _values(series)
    weights = gaussian_weights(bandwidth, window)
    n, size = len(x), len(weights)
    out = np.full(n, np.nan)
    if n >= size:
        acc = np.zeros(n - size + 1)
        for lag, weight in enumerate(weights):  # one vectorised pass per lag, same order for every bar
            acc += weight * x[size - 1 - lag : n - lag]
        out[size - 1 :] = acc
    return _series(out, name)


@memoized
def nadaraya_watson_envelope(
    series: Any, bandwidth: float = 8.0, window: int = 500, mult: float = 3.0, mae_window: int | None = None
) -> Bands:
    """Return the causal NWE envelope: the estimate +- `mult` x mean |series - estimate|.

    The mean absolute error is taken over `mae_window` bars (default: `window`), window-exact.
    Example: `upper, middle, lower = nadaraya_watson_envelope(candles["close"], 8, 200, 3)`.
    """
    if not mult > 0:
        raise StrategyError(f"nadaraya_watson_envelope mult {mult!r} must be > 0")
    s = series if isinstance(series, pl.Series) else pl.Series(series)
    middle = nadaraya_watson(s, bandwidth, window)
    error = (s.cast(pl.Float64) - middle).abs()
    mae = sma_exact(error, mae_window or window) * float(mult)
    return Bands((middle + mae).alias(s.name), middle, (middle - mae).alias(s.name))
