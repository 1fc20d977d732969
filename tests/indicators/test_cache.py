"""The sweep's indicator memo: a hit only for the same function, arguments and equal inputs."""

from __future__ import annotations

import threading

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.indicators import atr, rsi, sma
from quantdesk.indicators.cache import indicator_cache


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), period=st.integers(2, 30), nudge=st.integers(0, 199))
def test_cached_results_equal_fresh_ones_and_only_equal_inputs_hit(seed: int, period: int, nudge: int) -> None:
    values = np.cumsum(np.random.default_rng(seed).normal(size=200)) + 100
    close = pl.Series("close", values)
    other = values.copy()
    other[nudge] += 1e-9  # one value differs, in the last bits
    fresh = (rsi(close, period), rsi(pl.Series("close", other), period), sma(close, period))
    with indicator_cache() as memo:
        got = (rsi(close, period), rsi(pl.Series("close", other), period), sma(close, period),
               rsi(pl.Series("close", values.copy()), period))  # a new Series with equal values: a hit
        assert (memo.hits, memo.misses) == (1, 3)
    for a, b in zip(fresh, got, strict=False):
        assert a.equals(b)
    assert got[3] is got[0]


def test_no_memo_outside_the_block_and_threads_share_the_block() -> None:
    close = pl.Series("close", np.linspace(1, 2, 500))
    high, low = close * 1.01, close * 0.99
    assert rsi(close, 14) is not rsi(close, 14)  # nothing cached outside a block
    with indicator_cache() as memo:
        first = atr(high, low, close, period=14)
        results = []
        workers = [threading.Thread(target=lambda: results.append(atr(high, low, close, period=14)))
                   for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert (memo.hits, memo.misses) == (4, 1)  # threads started inside the block use its memo
        assert all(r is first for r in results)
        assert not atr(high, low, close, period=15).equals(first)  # keyword arguments are part of the key
