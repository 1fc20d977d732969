"""The Vegas tunnel and NWE built-ins, and the repainting NWE example that the lookahead check refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.errors import StrategyError
from quantdesk.lake import Lake, write_sample
from quantdesk.strategies import load_strategy

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _candles(close: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
                         "volume": np.ones(len(close))})


def test_vegas_rides_a_trend_above_its_tunnel_and_waits_below_it() -> None:
    vegas = load_strategy("vegas_tunnel")(**{"trigger": 3, "tunnel_fast": 8, "tunnel_slow": 10,
                                           "filter_fast": 20, "filter_slow": 25, "short": True})
    up = 100 * 1.002 ** np.arange(300)
    down = up[-1] * 0.998 ** np.arange(1, 301)
    target = vegas.target(_candles(np.concatenate([up, down]))).to_numpy()
    assert (target[:24] == 0).all(), "flat until every EMA exists"
    assert (target[100:300] == 1).all(), "long in a steady uptrend"
    assert (target[-100:] == -1).all(), "short in a steady downtrend"
    long_only = load_strategy("vegas_tunnel")(**{"trigger": 3, "tunnel_fast": 8, "tunnel_slow": 10,
                                               "filter_fast": 20, "filter_slow": 25})
    assert set(long_only.target(_candles(np.concatenate([up, down]))).to_numpy()[-100:]) == {0.0}


def test_vegas_names_its_span_order() -> None:
    with pytest.raises(StrategyError, match="12, 144, 169, 576, 676"):
        load_strategy("vegas_tunnel")(**{"tunnel_fast": 700})
    assert load_strategy("vegas_tunnel")().warmup > 676 * 30  # the 676 EMA settles to the last bit


def test_nwe_buys_a_break_below_its_band_and_sells_the_recovery() -> None:
    rng = np.random.default_rng(5)
    close = 100 + rng.normal(0, 0.1, 400)
    close[300:305] -= 5  # a sharp dip far outside the band
    target = load_strategy("nwe")(**{"window": 50, "bandwidth": 5.0, "mult": 3.0}).target(_candles(close)).to_numpy()
    assert target[300] == 1.0, "the dip below the lower band is bought at its close"
    assert (target[:300] >= 0).all() and target[310] == 0.0, "flat again once the close is back at the estimate"


@pytest.fixture
def sample_lake(quantdesk_home: Path) -> Lake:
    lake = Lake()
    write_sample(lake, symbols=1, days=20)
    return lake


def test_lookahead_check_accepts_the_causal_nwe_and_refuses_the_repainting_example(sample_lake: Lake) -> None:
    ok = runner.invoke(app, ["check", "lookahead", "nwe", "--symbol", "BTC/USDT", "--timeframe", "1h",
                             "--param", "window=30", "--samples", "20", "--param-sets", "1", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["passed"] is True
    example = REPO / "research" / "strategies" / "nwe_repainting.py"
    bad = runner.invoke(app, ["check", "lookahead", f"{example}:NweRepainting", "--symbol", "BTC/USDT",
                              "--timeframe", "1h", "--samples", "20"])
    assert bad.exit_code == 1, bad.output
    assert "looks ahead" in bad.output
