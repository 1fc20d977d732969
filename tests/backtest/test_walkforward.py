"""Walk-forward: window layout, choice on train, stitched out-of-sample equity, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from quantdesk.backtest.store import load_run
from quantdesk.backtest.walkforward import parse_duration_ms, walk_forward, window_bounds
from quantdesk.core.errors import BacktestError

HOUR = 3_600_000


def test_rolling_and_anchored_windows() -> None:
    ts = np.arange(0, 100 * HOUR, HOUR)
    rolling = window_bounds(ts, 30 * HOUR, 10 * HOUR)
    assert rolling == [(0, 30, 40), (10, 40, 50), (20, 50, 60), (30, 60, 70), (40, 70, 80), (50, 80, 90),
                       (60, 90, 100)]
    anchored = window_bounds(ts, 30 * HOUR, 10 * HOUR, anchored=True)
    assert [w[0] for w in anchored] == [0] * 7 and [w[1:] for w in anchored] == [w[1:] for w in rolling]
    # Test windows tile the out-of-sample span without overlap.
    assert all(a[2] == b[1] for a, b in zip(rolling, rolling[1:], strict=False))


def test_durations_parse_and_fail_clearly() -> None:
    assert parse_duration_ms("90d") == 90 * 86_400_000 and parse_duration_ms("12h") == 12 * HOUR
    with pytest.raises(BacktestError, match="90d"):
        parse_duration_ms("three months")


def test_walk_forward_chooses_on_train_and_stitches_test_equity(make_candles) -> None:
    frame = make_candles(24 * 20, seed=6)  # 20 days of 1h candles
    grid = {"fast": [3, 6, 12], "slow": [24, 48]}
    result = walk_forward("sma_cross", frame, grid=grid, train="6d", test="3d", metric="sharpe")
    assert len(result.windows) == 4
    windows = window_bounds(frame["ts"].dt.epoch("ms").to_numpy(), 6 * 24 * HOUR, 3 * 24 * HOUR)
    assert len(result.equity) == sum(c - b for _, b, c in windows)
    first = result.windows.row(0, named=True)
    a, b, _ = windows[0]
    # The choice is the train window's best Sharpe (indicators warmed on the history before it).
    from quantdesk.backtest.grid import expand_grid
    from quantdesk.backtest.sweep_fast import fast_path_for
    from quantdesk.core import CostModel, MarketRules
    from quantdesk.strategies import load_strategy

    cls = load_strategy("sma_cross")
    combos, _ = expand_grid(cls, grid)
    train, _ = fast_path_for(cls, {"x": frame}).run(
        combos, cost=CostModel(), rules=MarketRules(), initial_cash=10_000.0, allow_short=False,
        rebalance=False, timeframe_ms=HOUR, bars=slice(a, b), n_blocks=2)
    best = combos[int(np.argmax(train["sharpe"]))]
    assert (first["fast"], first["slow"]) == (best["fast"], best["slow"])
    assert first["train_sharpe"] == pytest.approx(float(np.max(train["sharpe"])))
    # Each test window starts from the previous window's final equity.
    eq = result.equity["equity"].to_numpy()
    assert result.metrics["final_equity"] == eq[-1]
    assert result.metrics["total_return"] == pytest.approx(eq[-1] / 10_000 - 1)
    assert result.metrics["trades"] == int(result.windows["test_trades"].sum())
    stored = load_run(result.run_id)
    assert stored.kind == "walkforward" and stored.table("equity").height == len(result.equity)


def test_anchored_walk_forward_and_too_short_data(make_candles) -> None:
    frame = make_candles(24 * 12, seed=7)
    result = walk_forward("ema_cross", frame, grid={"fast": [3, 5], "slow": [12]}, train="4d", test="2d",
                          anchored=True, store=False)
    assert result.anchored and set(result.windows["train_start"]) == {frame["ts"][0]}
    with pytest.raises(BacktestError, match="no complete train"):
        walk_forward("sma_cross", frame, grid={"fast": [3], "slow": [12]}, train="30d", test="10d", store=False)


def test_walk_forward_falls_back_for_strategies_without_kernel(make_candles) -> None:
    frame = make_candles(24 * 8, seed=8)
    result = walk_forward("rsi_reversion", frame, grid={"period": [5, 9]}, train="4d", test="2d", store=False)
    assert len(result.windows) == 2 and result.equity.height == 2 * 48


def test_cli_walkforward_json() -> None:
    from quantdesk.cli import app
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=8)
    out = CliRunner().invoke(app, ["walkforward", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "1h",
                                   "--grid", "fast=3:9:3", "--grid", "slow=12,24", "--train", "4d",
                                   "--test", "2d", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["run_id"].startswith("walkforward-") and len(payload["windows"]) == 2
    assert {"sharpe", "max_drawdown", "total_return"} <= set(payload["metrics"])
