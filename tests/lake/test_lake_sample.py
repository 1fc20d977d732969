"""The synthetic sample: deterministic, valid candles, volatility clustering, a few gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from quantdesk.lake import SAMPLE_EXCHANGE, generate_candles, write_sample
from quantdesk.lake.validation import validate
from tests.lake.lake_helpers import make_lake


def test_the_same_seed_gives_the_same_candles() -> None:
    a = generate_candles("BTC/USDT", minutes=5000, seed=3)
    assert a.equals(generate_candles("BTC/USDT", minutes=5000, seed=3))
    assert not a.equals(generate_candles("BTC/USDT", minutes=5000, seed=4))


def test_sample_candles_are_valid_and_realistic() -> None:
    frame = generate_candles("ETH/USDT", minutes=60 * 1440, seed=7)
    good, bad = validate(frame, tf_ms=60_000, offset_ms=0, now_ms=2_000_000_000_000)
    assert bad.height == 0 and good.height == frame.height
    assert 0 < 60 * 1440 - frame.height < 1000  # a few outages, not many
    returns = np.diff(np.log(frame.get_column("close").to_numpy()))
    magnitude = np.abs(returns) - np.abs(returns).mean()
    lag = 60
    autocorrelation = float(np.dot(magnitude[:-lag], magnitude[lag:]) / np.dot(magnitude, magnitude))
    assert autocorrelation > 0.05  # volatility clusters: big moves follow big moves an hour later
    assert frame.select((pl.col("high") > pl.col("low")).all()).item()


def test_write_sample_fills_the_synthetic_exchange(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    reports = write_sample(lake, symbols=2, days=2)
    assert lake.exchanges() == [SAMPLE_EXCHANGE]
    assert lake.symbols() == ["BTC/USDT", "ETH/USDT"]
    assert all(r.inserted > 2 * 1440 - 200 for r in reports.values())
