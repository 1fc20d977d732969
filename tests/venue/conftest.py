"""Fixtures: deterministic candles and a running simulated venue with a real ccxt client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.venue import SimulatedVenue, binance_client

START = datetime(2024, 1, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
MINUTE_MS = 60_000


def make_candles(n: int = 2500, *, price: float = 30_000.0, seed: int = 1) -> pl.DataFrame:
    """Return `n` 1m candles from START: a random walk with realistic wicks and volumes."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.r_[price, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 2e-3, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 2e-3, n))
    ts = pl.datetime_range(
        START, START + timedelta(minutes=n - 1), "1m", time_unit="ms", time_zone="UTC", eager=True
    )
    return pl.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(1.0, 20.0, n),
        }
    )


@pytest.fixture(scope="module")
def candles() -> dict[str, pl.DataFrame]:
    return {"BTC/USDT": make_candles(), "ETH/USDT": make_candles(price=2_000.0, seed=2)}


@pytest.fixture
def venue(candles: dict[str, pl.DataFrame]) -> Iterator[SimulatedVenue]:
    """A venue whose market clock sits at bar 1000 (so 1000 bars are history)."""
    with SimulatedVenue(candles, clock=ManualClock(START_MS + 1000 * MINUTE_MS)) as running:
        yield running
        assert running.internal_errors == []


@pytest.fixture
def exchange(venue: SimulatedVenue) -> Iterator[object]:
    """The real ccxt.binance client, signed with the venue's test key."""
    client = binance_client(venue, timeout_ms=5_000)
    yield client
    client.session.close()
