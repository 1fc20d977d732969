"""Window statistics whose value at a bar depends only on the values in its window, bit for bit.

Running-sum SMAs (polars `rolling_mean`, TA-Lib SMA) add the newest value and subtract the
oldest, so their round-off carries the whole history: one window gives last bits that depend
on where the series starts. The live runner recomputes a strategy on a trailing window, and a
target is a comparison, so two SMAs that are equal on the backtest's history (a flat stretch)
can compare unequal on the runner's window. Here every window is summed exactly, in integers,
and divided once; nothing from outside the window reaches the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import talib
from numba import njit

from quantdesk.core.errors import StrategyError
from quantdesk.indicators.cache import memoized

__all__ = ["sma_exact", "sma_exact_table", "window_mean_std"]

# A scaled value stays at most 2**50: a float price times 10**k is then off by far less than
# 0.5 from the integer a price with at most k decimals scales to, so rounding recovers that
# integer exactly. A window's sum stays below 2**62 (int64 ends at 2**63).
_ELEMENT_LIMIT = 2.0**50
_SUM_LIMIT = 2.0**62
# The divisor period * 10**k stays below 2**53, so it and every remainder are exact floats.
_DIVISOR_LIMIT = 2**53


def _value_cap(period: int) -> float:
    """Return the largest |value| * 10**k a window of `period` values may hold."""
    return min(_ELEMENT_LIMIT, _SUM_LIMIT / (2 * period))


def _scales(magnitude: np.ndarray, period: int) -> np.ndarray:
    """Return k per full window: the most decimals that keep its exact sum in int64 (-1 where none do).

    `magnitude` is |value|. k is a function of the window's largest |value| (an exact max), so
    it too depends only on the window. Thresholds rather than a log10 define it, so no
    rounding can move a boundary.
    """
    most = int(np.floor(np.log10(_DIVISOR_LIMIT / period)))
    # bounds[i] = cap / 10**(most - i), ascending: k = most - (first i with bounds[i] >= peak).
    bounds = np.array([_value_cap(period) / 10.0**j for j in range(most, -1, -1)])
    windows = len(magnitude) - period + 1
    low, high = np.searchsorted(bounds, [magnitude.min(), magnitude.max()], side="left")
    if low == high:  # the usual case: every window's peak lies between these, so one k for all
        return np.full(windows, most - low)
    peak = talib.MAX(magnitude, timeperiod=period)[period - 1 :] if period > 1 else magnitude
    return most - np.searchsorted(bounds, peak, side="left")


def _window_means(x: np.ndarray, period: int, k: int, magnitude: float,
                  prefixes: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Return each full window's mean of the values scaled to k decimals, summed in int64, divided once.

    `magnitude` is the largest |value| in `x`. `prefixes` (k -> prefix sums) lets several
    periods share the scaled prefix sums of one series when no value needs zeroing for them.
    """
    # Values too large for this k never sit in a window that uses it (its peak bounds them;
    # twice the cap absorbs the threshold's round-off); zero them so the cast is defined.
    limit = 2 * _value_cap(period)
    shareable = magnitude * 10.0**k <= limit
    prefix = prefixes.get(k) if prefixes is not None and shareable else None
    if prefix is None:
        scaled = x * 10.0**k
        if not shareable:
            scaled[~(np.abs(scaled) <= limit)] = 0.0
        prefix = np.zeros(len(x) + 1, dtype=np.int64)
        np.cumsum(np.rint(scaled, out=scaled).astype(np.int64), out=prefix[1:])
        if prefixes is not None and shareable:
            prefixes[k] = prefix
    # Integer arithmetic wraps modulo 2**64 (numpy documents it for cumsum), so a prefix that
    # overflows still gives every window's sum exactly, as long as that sum fits (it does).
    return _means_from_prefix(prefix, period, period * 10**k)


@njit(cache=True)
def _means_from_prefix(prefix: np.ndarray, period: int, divisor: int) -> np.ndarray:  # pragma: no cover - jitted
    """Each window's mean = its exact int64 sum / divisor, as a whole part plus an exactly divided remainder.

    A function of that rational alone, so equal means give equal floats whatever k produced
    them, and a larger mean never gives a smaller float. One pass, the same IEEE operations as
    the vectorised form it replaces (no fastmath; tests compare the two bit for bit): the float
    quotient is off by at most 1 whole, which the integer remainder corrects.
    """
    n = prefix.shape[0] - period
    out = np.empty(n)
    d = float(divisor)
    for i in range(n):
        total = prefix[i + period] - prefix[i]  # wraps like numpy's int64; the window's sum fits
        whole = np.int64(np.floor(total / d))
        rest = total - whole * divisor
        if rest < 0:
            whole -= 1
            rest += divisor
        elif rest >= divisor:
            whole += 1
            rest -= divisor
        out[i] = rest / d + whole
    return out


@memoized
def sma_exact(series: Any, period: int) -> pl.Series:
    """Return the simple moving average over `period` bars, exact per window; null until it fills.

    The value at bar t is a function of the `period` values ending at t only, bit for bit,
    wherever the series starts, so a strategy that compares SMAs decides the same on a
    trailing window as on the full history. Each window is scaled to k decimals (the most that
    keeps int64 sums exact, from the window's largest |value|: 10 below 1e5, more for smaller
    values, at most 15 - log10(period)), rounded to integers, summed exactly and divided once.
    Values with at most k decimals (exchange prices) are exact, so equal means are equal
    floats; others are rounded to 10**-k first. A null or NaN in the window gives null.
    Example: `sma_exact(candles["close"], 30)`.
    """
    s = series if isinstance(series, pl.Series) else pl.Series(series)
    _check_period(period)
    return pl.Series(s.name, _sma_values(_Prepared.of(s), int(period), None), dtype=pl.Float64).fill_nan(None)


def sma_exact_table(series: Any, periods: Any) -> dict[int, np.ndarray]:
    """Return `{period: sma_exact(series, period) as float64 numpy (NaN for null)}` for many periods at once.

    Bit for bit what `sma_exact` gives for each period; the series is prepared once and the
    scaled prefix sums are shared between periods that use the same number of decimals, so a
    sweep's table of moving averages costs a fraction of one call per period.
    """
    s = series if isinstance(series, pl.Series) else pl.Series(series)
    prepared = _Prepared.of(s)
    prefixes: dict[int, np.ndarray] = {}
    out = {}
    for period in dict.fromkeys(int(p) for p in periods):
        _check_period(period)
        out[period] = _sma_values(prepared, period, prefixes)
    return out


def _check_period(period: Any) -> None:
    if isinstance(period, bool) or int(period) != period or not 1 <= period <= 2**40:
        raise StrategyError(f"sma_exact period {period!r} must be an integer in [1, 2**40]")


class _Prepared:
    """A series as sma_exact reads it: float64 values (nulls as 0), where they were missing, |values|."""

    __slots__ = ("gaps", "largest", "magnitude", "missing", "x")

    def __init__(self, x: np.ndarray) -> None:
        self.missing = np.isnan(x)
        gappy = bool(self.missing.any())
        self.x = np.where(self.missing, 0.0, x) if gappy else x
        self.gaps = np.concatenate([[0], np.cumsum(self.missing)]) if gappy else None
        self.magnitude = np.abs(self.x)
        self.largest = float(self.magnitude.max()) if len(x) else 0.0

    @classmethod
    def of(cls, s: pl.Series) -> _Prepared:
        return cls(np.ascontiguousarray(s.cast(pl.Float64).to_numpy(), dtype=np.float64))


def _sma_values(p: _Prepared, period: int, prefixes: dict[int, np.ndarray] | None) -> np.ndarray:
    """Return sma_exact's values as float64 with NaN where it is null."""
    x = p.x
    out = np.full(len(x), np.nan)
    if len(x) >= period:
        k = _scales(p.magnitude, period)  # one per bar with a full window behind it
        if p.gaps is not None:  # a null in the window gives null
            k[(p.gaps[period:] - p.gaps[: len(x) - period + 1]) > 0] = -2
        if (k == -1).any():
            raise StrategyError(
                f"sma_exact: |value| up to {p.largest:g} over {period} bars overflows exact int64 window "
                f"sums (at most {_value_cap(period):g} per value); rescale the series (e.g. quote in "
                "thousands) or use a shorter period"
            )
        full = out[period - 1 :]  # a view
        for scale in np.flatnonzero(np.bincount(k[k >= 0])).tolist():
            means = _window_means(x, period, scale, p.largest, prefixes)
            if (k == scale).all():
                full[:] = means
            else:
                np.copyto(full, means, where=k == scale)
    return out


@memoized
def window_mean_std(close: pl.Series, period: int) -> tuple[pl.Series, pl.Series]:
    """Return the mean and population std dev of each trailing `period`-bar window.

    Each window is summed from scratch in one fixed order (newest bar first), so a bar's value
    depends only on the `period` closes that end at it, bit for bit, wherever the series
    starts. TA-Lib's BBANDS keeps running sums of x and x**2 over the whole series instead:
    its round-off depends on where the series starts, and a breakout is a comparison with the
    band, so the live window's decision could differ from the backtest's. Costs `2 * period`
    vectorised passes, against TA-Lib's one. Null before the window is full.
    """
    x = np.ascontiguousarray(close.cast(pl.Float64).to_numpy(), dtype=np.float64)
    n = len(x)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n >= period:
        total = x[period - 1 :].copy()
        for lag in range(1, period):
            total += x[period - 1 - lag : n - lag]
        centre = total / period
        squares = np.zeros(n - period + 1)
        for lag in range(period):
            squares += (x[period - 1 - lag : n - lag] - centre) ** 2
        mean[period - 1 :] = centre
        std[period - 1 :] = np.sqrt(squares / period)
    name = close.name
    return (
        pl.Series(name, mean, dtype=pl.Float64).fill_nan(None),
        pl.Series(name, std, dtype=pl.Float64).fill_nan(None),
    )
