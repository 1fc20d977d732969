"""`sma_exact`: each window's mean is exact (correctly rounded for exchange prices) and window-local.

sma_cross compares two of these, and the live runner recomputes it on a trailing window, so
the value at bar t must not depend on anything before the window, and equal means (a flat
stretch) must be equal floats.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core import StrategyError
from quantdesk.indicators import sma_exact


def _decimal_walk(n: int, start: float, decimals: int, *, seed: int, sigma: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(start * np.exp(np.cumsum(rng.normal(0.0, sigma, n))), decimals)


def _true_mean(values: np.ndarray) -> float:
    # repr is the shortest decimal that round-trips: the price as the exchange quoted it.
    return float(sum(Fraction(Decimal(repr(float(v)))) for v in values) / len(values))


@pytest.mark.parametrize(
    ("start", "decimals"),
    [(60_000.0, 2), (2.8645e-05, 9), (0.07, 8), (1.7e9, 0), (1.5e-09, 13)],
    ids=["btc-usdt", "nxt-btc", "eth-btc", "btc-idr", "tiny-token"],
)
@pytest.mark.parametrize("period", [2, 7, 30, 500])
def test_each_mean_is_the_correctly_rounded_mean_of_the_quoted_prices(start: float, decimals: int, period: int) -> None:
    x = _decimal_walk(1_500, start, decimals, seed=period)
    out = sma_exact(pl.Series("close", x), period)
    assert out.name == "close" and out.null_count() == period - 1
    got = out.to_numpy()
    for t in np.random.default_rng(0).integers(period - 1, len(x), 40):
        assert got[t] == _true_mean(x[t - period + 1 : t + 1]), t


def test_a_series_across_many_magnitudes_is_still_exact_and_window_local() -> None:
    # A pump from 1e-6 to 1e6: windows far apart need different decimal scales.
    x = np.round(np.geomspace(1e-6, 1e6, 4_000) * (1 + 0.01 * np.sin(np.arange(4_000))), 12)
    x = np.array([float(f"{v:.9g}") for v in x])  # nine significant digits, like a quote
    period = 25
    full = sma_exact(pl.Series(x), period).to_numpy()
    for t in range(period - 1, len(x), 97):
        assert full[t] == _true_mean(x[t - period + 1 : t + 1]), t
        assert sma_exact(pl.Series(x[t - period + 1 : t + 1]), period)[-1] == full[t], t


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), period=st.integers(1, 60), start=st.integers(0, 200),
       sigma=st.sampled_from([1e-4, 0.01, 0.3]), flat=st.sampled_from([0.0, 0.5, 0.9]))
def test_the_mean_depends_only_on_the_window(seed: int, period: int, start: int, sigma: float, flat: float) -> None:
    # Unrounded floats (not exchange prices) too: the window, not the history, decides the bits.
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, sigma, 400)
    steps[rng.random(400) < flat] = 0.0
    x = 100 * np.exp(np.cumsum(steps))
    full = sma_exact(pl.Series(x), period).to_numpy()
    first = start + period - 1  # the first bar with a full window after `start`
    for t in sorted({first, 399, *rng.integers(first, 400, 10).tolist()}):
        assert sma_exact(pl.Series(x[start : t + 1]), period).to_numpy()[-1] == full[t], t


def test_equal_means_are_equal_floats() -> None:
    # A flat run: every window's mean is the price itself, whatever the period.
    x = np.concatenate([_decimal_walk(100, 0.0123, 8, seed=1), np.full(200, 0.01234567)])
    fast, slow = sma_exact(pl.Series(x), 10).to_numpy(), sma_exact(pl.Series(x), 30).to_numpy()
    assert (fast[130:] == 0.01234567).all() and (slow[130:] == 0.01234567).all()
    # Different closes, same mean: 0.1 + 0.2 + 0.3 and 0.2 + 0.2 + 0.2.
    assert sma_exact(pl.Series([0.1, 0.2, 0.3]), 3)[-1] == sma_exact(pl.Series([0.2, 0.2, 0.2]), 3)[-1] == 0.2


def test_nulls_and_nans_blank_their_windows_only() -> None:
    out = sma_exact(pl.Series([1.0, 2.0, None, 4.0, 5.0, float("nan"), 7.0, 8.0, 9.0]), 2)
    assert out.to_list() == [None, 1.5, None, None, 4.5, None, None, 7.5, 8.5]
    assert sma_exact(pl.Series([1.0, 2.0]), 3).to_list() == [None, None]
    assert sma_exact([3.0, 5.0], 1).to_list() == [3.0, 5.0]


def test_bad_periods_and_overflowing_values_are_refused() -> None:
    with pytest.raises(StrategyError, match="period"):
        sma_exact(pl.Series([1.0, 2.0]), 0)
    with pytest.raises(StrategyError, match="period"):
        sma_exact(pl.Series([1.0, 2.0]), 2.5)  # type: ignore[arg-type]
    with pytest.raises(StrategyError, match="rescale"):
        sma_exact(pl.Series([1.0, 3e16, 1.0]), 2)


def test_a_mean_just_below_a_whole_number_is_split_exactly() -> None:
    # The window sum (3e16 - 1 in units of 1e-10) is not a float: its float quotient rounds up
    # to the whole 100000, and the remainder comes out negative until it is corrected.
    x = [100_000.0] * 29 + [99_999.9999999999]
    assert sma_exact(pl.Series(x), 30)[-1] == _true_mean(np.array(x)) == 100_000.0
    assert sma_exact(pl.Series(x[::-1] + [0.0] * 3), 30).to_list()[29] == 100_000.0


def test_the_sweep_kernel_and_sma_cross_use_the_same_bits() -> None:
    # The fused sweep kernel compares its own moving-average table; on flat runs (exact ties)
    # any other SMA would decide some bars differently from SmaCross.target.
    from quantdesk.backtest.sweep_fast import fast_path_for
    from quantdesk.strategies import load_strategy

    close = np.repeat(_decimal_walk(300, 0.0123, 8, seed=3), 8)  # every close held for 8 bars
    frame = pl.DataFrame({"open": close, "close": close})
    cls = load_strategy("sma_cross")
    path = fast_path_for(cls, {"x": frame})
    assert path is not None
    fast, slow = path.spec.indicator(path.close_series, 4), path.spec.indicator(path.close_series, 8)
    assert np.array_equal(fast, sma_exact(frame["close"], 4).to_numpy(), equal_nan=True)
    target = cls(fast=4, slow=8).target(frame).to_numpy()
    assert np.array_equal(target, (fast > slow).astype(np.float64))
    assert ((fast == slow) & (target == 0.0)).sum() > 10  # ties happen, and are no signal
