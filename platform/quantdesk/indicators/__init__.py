"""Technical indicators over polars Series, computed by TA-Lib (no hand-written loops).

Every function takes a polars Series (or anything `pl.Series(...)` accepts) and returns
Float64 Series of the same length. Bars before an indicator has enough history are null,
never NaN, so `fill_null` and comparisons behave the same everywhere (TA-Lib's NaN output
is turned into null). A null in the input propagates like TA-Lib's NaN does.
"""

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

__all__ = [
    "atr",
    "bbands",
    "donchian",
    "ema",
    "momentum",
    "rolling_max",
    "rolling_min",
    "rsi",
    "sma",
    "zscore",
]
