"""Thin wrappers that feed polars columns to TA-Lib and return polars Series with nulls."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import polars as pl
import talib

from quantdesk.core.errors import StrategyError
from quantdesk.indicators.cache import memoized

__all__ = [
    "Bands",
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


class Bands(NamedTuple):
    """An upper, middle and lower band, each a Float64 Series."""

    upper: pl.Series
    middle: pl.Series
    lower: pl.Series


def _values(series: Any) -> tuple[np.ndarray, str]:
    """Return the input as a contiguous float64 array (nulls as NaN) and its name."""
    s = series if isinstance(series, pl.Series) else pl.Series(series)
    return np.ascontiguousarray(s.cast(pl.Float64).to_numpy(), dtype=np.float64), s.name


def _series(values: np.ndarray, name: str) -> pl.Series:
    # TA-Lib marks the warm-up with NaN; the candle contract uses null for "no value".
    return pl.Series(name, values, dtype=pl.Float64).fill_nan(None)


def _check_period(name: str, period: int, minimum: int = 1) -> int:
    if int(period) != period or period < minimum:
        raise StrategyError(f"{name} period {period!r} must be an integer >= {minimum}")
    return int(period)


@memoized
def sma(series: Any, period: int) -> pl.Series:
    """Return the simple moving average over `period` bars (TA-Lib SMA).

    TA-Lib keeps a running sum, so the last bits depend on where the series starts; compare
    SMAs in a strategy with `sma_exact`, which is exact per window.
    """
    values, name = _values(series)
    return _series(talib.SMA(values, timeperiod=_check_period("sma", period, 2)), name)


@memoized
def ema(series: Any, period: int) -> pl.Series:
    """Return the exponential moving average with span `period` (TA-Lib EMA, seeded by an SMA)."""
    values, name = _values(series)
    return _series(talib.EMA(values, timeperiod=_check_period("ema", period, 2)), name)


@memoized
def rsi(series: Any, period: int = 14) -> pl.Series:
    """Return Wilder's relative strength index in [0, 100] (TA-Lib RSI)."""
    values, name = _values(series)
    return _series(talib.RSI(values, timeperiod=_check_period("rsi", period, 2)), name)


@memoized
def bbands(series: Any, period: int = 20, num_std: float = 2.0) -> Bands:
    """Return Bollinger bands: SMA(`period`) plus and minus `num_std` population std devs."""
    values, name = _values(series)
    upper, middle, lower = talib.BBANDS(
        values,
        timeperiod=_check_period("bbands", period, 2),
        nbdevup=float(num_std),
        nbdevdn=float(num_std),
        matype=talib.MA_Type.SMA,
    )
    return Bands(_series(upper, name), _series(middle, name), _series(lower, name))


@memoized
def rolling_max(series: Any, period: int) -> pl.Series:
    """Return the highest value of the last `period` bars, this bar included (TA-Lib MAX)."""
    values, name = _values(series)
    return _series(talib.MAX(values, timeperiod=_check_period("rolling_max", period, 2)), name)


@memoized
def rolling_min(series: Any, period: int) -> pl.Series:
    """Return the lowest value of the last `period` bars, this bar included (TA-Lib MIN)."""
    values, name = _values(series)
    return _series(talib.MIN(values, timeperiod=_check_period("rolling_min", period, 2)), name)


@memoized
def donchian(high: Any, low: Any, period: int = 20) -> Bands:
    """Return the Donchian channel: highest high, midpoint and lowest low of `period` bars."""
    upper = rolling_max(high, period)
    lower = rolling_min(low, period)
    return Bands(upper, ((upper + lower) / 2).alias(upper.name), lower)


@memoized
def atr(high: Any, low: Any, close: Any, period: int = 14) -> pl.Series:
    """Return Wilder's average true range over `period` bars (TA-Lib ATR)."""
    h, name = _values(high)
    lo, _ = _values(low)
    c, _ = _values(close)
    if not len(h) == len(lo) == len(c):
        raise StrategyError(f"atr needs high, low, close of one length, got {len(h)}, {len(lo)}, {len(c)}")
    return _series(talib.ATR(h, lo, c, timeperiod=_check_period("atr", period, 1)), name)


@memoized
def momentum(series: Any, period: int) -> pl.Series:
    """Return the rate of change over `period` bars as a fraction (TA-Lib ROCP)."""
    values, name = _values(series)
    return _series(talib.ROCP(values, timeperiod=_check_period("momentum", period, 1)), name)


@memoized
def zscore(series: Any, period: int) -> pl.Series:
    """Return (x - SMA) / population std dev over `period` bars; null where the std dev is 0."""
    values, name = _values(series)
    p = _check_period("zscore", period, 2)
    mean = talib.SMA(values, timeperiod=p)
    std = talib.STDDEV(values, timeperiod=p, nbdev=1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, (values - mean) / std, np.nan)
    return _series(z, name)
