"""MACD and KDJ: the oscillators the desk's documents name.

MACD is TA-Lib's. KDJ is written out because TA-Lib has no KDJ: its STOCH smooths the raw
stochastic with a moving average over a fixed number of bars (slow %K = SMA(fast %K, 3)),
while KDJ as Chinese platforms (TongDaXin, Futu, Binance's own chart) define it smooths
recursively with weight 1/3, seeded at 50, and adds J = 3K - 2D. The two differ in every bar;
they agree only in direction.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import polars as pl
import talib

from quantdesk.core.errors import StrategyError
from quantdesk.indicators.cache import memoized
from quantdesk.indicators.talib_wrappers import _check_period, _series, _values

__all__ = ["Kdj", "Macd", "kdj", "macd"]


class Macd(NamedTuple):
    """The MACD line (fast EMA - slow EMA), its signal line and their difference (histogram)."""

    macd: pl.Series
    signal: pl.Series
    histogram: pl.Series


class Kdj(NamedTuple):
    """The K, D and J lines of KDJ, each a Float64 Series in [0, 100] (J may leave that range)."""

    k: pl.Series
    d: pl.Series
    j: pl.Series


@memoized
def macd(series: Any, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """Return MACD(fast, slow, signal) of `series` (TA-Lib MACD); null until the signal line exists.

    TA-Lib starts the fast EMA where the slow one starts, so the early values differ from
    `ema(x, fast) - ema(x, slow)` until both have settled.
    Example: `macd(candles["close"]).histogram`.
    """
    values, name = _values(series)
    f, s, g = _check_period("macd fast", fast, 2), _check_period("macd slow", slow, 2), _check_period("macd signal", signal, 1)
    if f >= s:
        raise StrategyError(f"macd needs fast < slow, got fast={f} slow={s}")
    line, sig, hist = talib.MACD(values, fastperiod=f, slowperiod=s, signalperiod=g)
    # TA-Lib fills the line from the slow EMA's start but the signal only later: align all three.
    line = np.where(np.isnan(sig), np.nan, line)
    return Macd(_series(line, name), _series(sig, name), _series(hist, name))


def _smooth(values: pl.Series, weight: float, seed: float) -> pl.Series:
    """Return y_t = weight * x_t + (1 - weight) * y_{t-1}, y_{-1} = seed, over the non-null tail."""
    # polars' ewm_mean(adjust=False) is exactly this recursion, seeded with the first value:
    # prepend the seed, then drop it.
    seeded = pl.concat([pl.Series([seed], dtype=pl.Float64), values.cast(pl.Float64)])
    return seeded.ewm_mean(alpha=weight, adjust=False, ignore_nulls=False)[1:]


@memoized
def kdj(high: Any, low: Any, close: Any, n: int = 9, m1: int = 3, m2: int = 3) -> Kdj:
    """Return KDJ(n, m1, m2) as Chinese platforms define it.

    RSV = (close - lowest low of n bars) / (highest high - lowest low) * 100 (50 when the
    range is zero); K = (1/m1) RSV + (1 - 1/m1) K[-1]; D = (1/m2) K + (1 - 1/m2) D[-1]; both
    seeded at 50 on the first bar with a full n-bar window; J = 3K - 2D. TA-Lib's STOCH
    (slowk = SMA(fastk, 3), slowd = SMA(slowk, 3)) is a different, finite-memory smoothing.
    Example: `kdj(candles["high"], candles["low"], candles["close"]).j`.
    """
    h, name = _values(high)
    lo, _ = _values(low)
    c, _ = _values(close)
    if not len(h) == len(lo) == len(c):
        raise StrategyError(f"kdj needs high, low, close of one length, got {len(h)}, {len(lo)}, {len(c)}")
    period = _check_period("kdj n", n, 1)
    w1, w2 = 1.0 / _check_period("kdj m1", m1, 1), 1.0 / _check_period("kdj m2", m2, 1)
    highest = talib.MAX(h, timeperiod=period) if period > 1 else h.copy()
    lowest = talib.MIN(lo, timeperiod=period) if period > 1 else lo.copy()
    span = highest - lowest
    with np.errstate(divide="ignore", invalid="ignore"):
        rsv = np.where(span > 0, (c - lowest) / span * 100.0, 50.0)
    rsv[np.isnan(span) | np.isnan(c)] = np.nan
    first = int(np.argmax(~np.isnan(rsv))) if (~np.isnan(rsv)).any() else len(rsv)
    k = np.full(len(rsv), np.nan)
    d = np.full(len(rsv), np.nan)
    if first < len(rsv):
        tail = pl.Series(rsv[first:]).fill_nan(None)
        k_tail = _smooth(tail, w1, 50.0)
        k[first:] = k_tail.to_numpy()
        d[first:] = _smooth(k_tail, w2, 50.0).to_numpy()
    j = 3.0 * k - 2.0 * d
    return Kdj(_series(k, name), _series(d, name), _series(j, name))
