"""Candles and a fresh model cache for ML tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from quantdesk.ml import cache as cache_mod


def make_candles(n: int = 900, *, seed: int = 3, minutes: int = 60) -> pl.DataFrame:
    """A random walk with a little momentum (so models have something to find), hourly by default."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.01, n)
    drift = np.convolve(shocks, np.ones(6) / 6, mode="full")[:n] * 0.3
    close = 100.0 * np.exp(np.cumsum(shocks + drift))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    ts = start + np.arange(n, dtype=np.int64) * minutes * 60_000
    return pl.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.uniform(1, 10, n)}).with_columns(
        pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC"))


@pytest.fixture
def candles() -> pl.DataFrame:
    return make_candles()


@pytest.fixture(autouse=True)
def fresh_model_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[cache_mod.ModelCache]:
    """Each test its own model cache (in the test's QUANTDESK_HOME), so counts and files are its own."""
    cache = cache_mod.ModelCache()
    monkeypatch.setattr(cache_mod, "_DEFAULT", cache)
    yield cache
