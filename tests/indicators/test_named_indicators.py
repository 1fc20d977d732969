"""MACD, KDJ and the causal Nadaraya-Watson estimator against independent calculations."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import kdj, macd, nadaraya_watson, nadaraya_watson_envelope


def _walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(size=n))
    return close + rng.random(n), close - rng.random(n), close


def _kdj_by_hand(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int, m1: int, m2: int) -> np.ndarray:
    """The textbook loop (TongDaXin's definition), one bar at a time."""
    k = d = 50.0
    out = np.full((len(close), 3), np.nan)
    for t in range(n - 1, len(close)):
        hh, ll = high[t - n + 1 : t + 1].max(), low[t - n + 1 : t + 1].min()
        rsv = (close[t] - ll) / (hh - ll) * 100 if hh > ll else 50.0
        k = (1 - 1 / m1) * k + rsv / m1
        d = (1 - 1 / m2) * d + k / m2
        out[t] = (k, d, 3 * k - 2 * d)
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), m1=st.integers(1, 6), m2=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       size=st.integers(1, 200))
def test_kdj_equals_the_textbook_loop(n: int, m1: int, m2: int, seed: int, size: int) -> None:
    high, low, close = _walk(size, seed)
    k, d, j = kdj(high, low, close, n, m1, m2)
    expected = _kdj_by_hand(high, low, close, n, m1, m2)
    got = np.column_stack([k.fill_null(np.nan).to_numpy(), d.fill_null(np.nan).to_numpy(),
                           j.fill_null(np.nan).to_numpy()])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert k.null_count() == min(n - 1, size)


def test_kdj_is_not_talib_stoch() -> None:
    high, low, close = _walk(300, 7)
    k, d, _ = kdj(high, low, close, 9, 3, 3)
    slowk, slowd = talib.STOCH(high, low, close, fastk_period=9, slowk_period=3, slowk_matype=0,
                               slowd_period=3, slowd_matype=0)
    both = ~np.isnan(slowk)
    assert np.abs(k.to_numpy()[both] - slowk[both]).max() > 1.0, "KDJ must differ from STOCH's SMA smoothing"
    assert np.corrcoef(k.to_numpy()[both], slowk[both])[0, 1] > 0.8, "...while moving the same way"
    assert d.null_count() == 8


def test_macd_settles_to_the_ema_difference_and_its_signal() -> None:
    _, _, close = _walk(3000, 3)
    line, signal, hist = macd(close, 12, 26, 9)
    assert line.null_count() == signal.null_count() == hist.null_count() == 33
    series = pl.Series(close)
    fast = series.ewm_mean(span=12, adjust=False).to_numpy()
    slow = series.ewm_mean(span=26, adjust=False).to_numpy()
    tail = slice(2000, None)  # both seeds forgotten
    np.testing.assert_allclose(line.to_numpy()[tail], (fast - slow)[tail], rtol=1e-9, atol=1e-9)
    expected_signal = pl.Series(fast - slow).ewm_mean(span=9, adjust=False).to_numpy()
    np.testing.assert_allclose(signal.to_numpy()[tail], expected_signal[tail], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hist.to_numpy()[tail], (line - signal).to_numpy()[tail], rtol=1e-12, atol=1e-12)
    with pytest.raises(StrategyError, match="fast < slow"):
        macd(close, 26, 12)


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 120), elements=st.floats(1, 1e5)),
       bandwidth=st.floats(0.5, 20), window=st.integers(1, 40))
def test_nadaraya_watson_is_the_one_sided_kernel_average(x: np.ndarray, bandwidth: float, window: int) -> None:
    got = nadaraya_watson(x, bandwidth, window).fill_null(np.nan).to_numpy()
    lags = np.arange(window)
    w = np.exp(-(lags**2) / (2 * bandwidth**2))
    for t in range(len(x)):
        if t < window - 1:
            assert math.isnan(got[t])
        else:
            expected = float(np.dot(w, x[t - lags]) / w.sum())
            assert got[t] == pytest.approx(expected, rel=1e-12)


def test_nadaraya_watson_uses_no_future_bar_and_is_exact_on_a_trailing_window() -> None:
    _, _, close = _walk(2000, 11)
    full = nadaraya_watson(close, 8, 150).to_numpy()
    for t in range(149, 2000, 53):
        assert nadaraya_watson(close[: t + 1], 8, 150).to_numpy()[-1] == full[t]  # no future
        assert nadaraya_watson(close[t - 149 : t + 1], 8, 150).to_numpy()[-1] == full[t]  # window-exact
    upper, middle, lower = nadaraya_watson_envelope(close, 8, 150, 3)
    half = (upper - middle).drop_nulls().to_numpy()
    np.testing.assert_allclose(half, (middle - lower).drop_nulls().to_numpy(), rtol=1e-12)
    assert (half > 0).all()
    with pytest.raises(StrategyError, match="bandwidth"):
        nadaraya_watson(close, 0, 10)
