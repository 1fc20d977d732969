"""Technical indicators over polars Series, computed by TA-Lib (no hand-written loops).

`sma_exact` and `window_mean_std` are the exceptions: window statistics summed afresh per
window (vectorised), for strategies whose decisions must not depend on where the history
starts (the live runner's trailing window). So are `kdj` (TA-Lib has no KDJ; its STOCH is a
different smoothing) and the causal Nadaraya-Watson estimator `nadaraya_watson`, which
TA-Lib lacks.

Every function takes a polars Series (or anything `pl.Series(...)` accepts) and returns
Float64 Series of the same length. Bars before an indicator has enough history are null,
never NaN, so `fill_null` and comparisons behave the same everywhere (TA-Lib's NaN output
is turned into null). A null in the input propagates like TA-Lib's NaN does.
"""

from quantdesk.indicators.kernel import gaussian_weights, nadaraya_watson, nadaraya_watson_envelope
from quantdesk.indicators.money_flow import accumulation_distribution, mfi, obv
from quantdesk.indicators.oscillators import Kdj, Macd, kdj, macd
from quantdesk.indicators.talib_wrappers import (
    atr,
    bbands,
    donchian,
    ema,
    momentum,
    rolling_max,
    rolling_min,
    rsi,
    sma,
    zscore,
)
from quantdesk.indicators.window_exact import sma_exact, sma_exact_table, window_mean_std

__all__ = [
    "Kdj",
    "Macd",
    "accumulation_distribution",
    "atr",
    "bbands",
    "donchian",
    "ema",
    "gaussian_weights",
    "kdj",
    "macd",
    "mfi",
    "momentum",
    "nadaraya_watson",
    "nadaraya_watson_envelope",
    "obv",
    "rolling_max",
    "rolling_min",
    "rsi",
    "sma",
    "sma_exact",
    "sma_exact_table",
    "window_mean_std",
    "zscore",
]
