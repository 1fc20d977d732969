"""Candles for backtest tests: small, deterministic, with opens that differ from the prior close."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest


def _make_candles(n: int = 400, *, seed: int = 0, start_price: float = 100.0, minutes: int = 60) -> pl.DataFrame:
    """Return `n` random-walk candles (timeframe `minutes`) whose opens gap away from the last close."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([start_price], close[:-1])) * np.exp(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n))
    start_ms = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    ts = start_ms + np.arange(n, dtype=np.int64) * minutes * 60_000
    return pl.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 10, n)}
    ).with_columns(pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC"))


@pytest.fixture
def make_candles() -> Callable[..., pl.DataFrame]:
    """Return the candle factory (a fixture, so test modules need not import conftest)."""
    return _make_candles


@pytest.fixture
def candles() -> pl.DataFrame:
    return _make_candles()
