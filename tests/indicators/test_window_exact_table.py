"""`sma_exact_table` gives, for every period, exactly what `sma_exact` gives (bit for bit, nulls included)."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.indicators import sma_exact
from quantdesk.indicators.window_exact import sma_exact_table

prices = st.lists(st.one_of(st.floats(0.0001, 2e6, allow_nan=False), st.just(float("nan"))), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(prices, st.lists(st.integers(1, 60), min_size=1, max_size=8), st.sampled_from([1.0, 1e-4, 1e4]))
def test_the_table_equals_one_call_per_period(values: list[float], periods: list[int], scale: float) -> None:
    series = pl.Series("close", [v * scale for v in values])
    table = sma_exact_table(series, periods)
    assert list(table) == list(dict.fromkeys(periods))
    for period, got in table.items():
        want = sma_exact(series, period).to_numpy()
        assert got.dtype == np.float64 and np.array_equal(got, want, equal_nan=True), period


def test_real_candles_share_prefix_sums_and_stay_exact() -> None:
    rng = np.random.default_rng(3)
    close = pl.Series("close", np.round(40_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, 20_000))), 2))
    table = sma_exact_table(close, range(5, 400, 7))
    for period in (5, 201, 397):
        assert np.array_equal(table[period], sma_exact(close, period).to_numpy(), equal_nan=True)


def _reference_means(prefix: np.ndarray, period: int, divisor: int) -> np.ndarray:
    """The vectorised numpy form the jitted one replaced, kept here as the reference."""
    total = prefix[period:] - prefix[:-period]
    quotient = np.floor(total / float(divisor))
    whole = quotient.astype(np.int64)
    rest = np.subtract(total, whole * divisor, out=total)
    fix = (rest >= divisor).astype(np.int64) - (rest < 0)
    whole += fix
    rest -= fix * divisor
    np.divide(rest, float(divisor), out=quotient)
    quotient += whole
    return quotient


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**40), 2**40), min_size=2, max_size=200), st.integers(1, 50), st.integers(0, 12))
def test_the_jitted_division_is_the_vectorised_one_bit_for_bit(steps: list[int], period: int, k: int) -> None:
    from quantdesk.indicators.window_exact import _means_from_prefix

    prefix = np.concatenate([[0], np.cumsum(np.array(steps, dtype=np.int64))])
    if len(prefix) <= period:
        return
    divisor = period * 10**k
    got = _means_from_prefix(prefix, period, divisor)
    assert np.array_equal(got, _reference_means(prefix, period, divisor))
