"""Sweeps: grid syntax, invalid combinations, ranking, storage, fallback engine and the CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from quantdesk.backtest.engine import backtest
from quantdesk.backtest.grid import expand_grid, parse_grid, parse_grid_spec
from quantdesk.backtest.store import load_run
from quantdesk.backtest.sweep import sweep
from quantdesk.core import CostModel
from quantdesk.core.errors import BacktestError
from quantdesk.strategies import load_strategy


def test_grid_ranges_are_inclusive_and_lists_are_kept() -> None:
    assert parse_grid_spec("fast=5:20:5") == ("fast", [5, 10, 15, 20])
    assert parse_grid_spec("x=0.5:1.5:0.5") == ("x", [0.5, 1.0, 1.5])
    assert parse_grid_spec("short=true,false") == ("short", ["true", "false"])
    assert parse_grid(["fast=2:4", "slow=10,20"]) == {"fast": [2, 3, 4], "slow": ["10", "20"]}


@pytest.mark.parametrize("bad", ["fast", "fast=", "=1:2", "fast=5:1", "fast=1:5:0", "fast=a:b"])
def test_bad_grid_specs_fail_with_an_example(bad: str) -> None:
    with pytest.raises(BacktestError):
        parse_grid_spec(bad)


def test_repeated_grid_names_and_unknown_parameters_fail() -> None:
    with pytest.raises(BacktestError, match="twice"):
        parse_grid(["fast=1,2", "fast=3"])
    with pytest.raises(BacktestError, match="no parameter"):
        expand_grid(load_strategy("sma_cross"), {"nope": [1]})


@settings(max_examples=30, deadline=None)
@given(fast=st.lists(st.integers(2, 60), min_size=1, max_size=8, unique=True),
       slow=st.lists(st.integers(5, 80), min_size=1, max_size=8, unique=True))
def test_invalid_combinations_are_skipped_and_counted(fast: list[int], slow: list[int]) -> None:
    combos, skipped = expand_grid(load_strategy("sma_cross"), {"fast": fast, "slow": slow})
    assert len(combos) + skipped == len(fast) * len(slow)
    assert all(c["fast"] < c["slow"] for c in combos)
    assert skipped == sum(1 for f in fast for s in slow if f >= s)


def test_random_samples_are_distinct_seeded_and_bounded() -> None:
    cls = load_strategy("sma_cross")
    grid = {"fast": list(range(2, 40)), "slow": list(range(41, 120))}
    a, _ = expand_grid(cls, grid, random=25, seed=1)
    b, _ = expand_grid(cls, grid, random=25, seed=1)
    assert a == b and len(a) == 25 and len({tuple(c.values()) for c in a}) == 25
    everything, _ = expand_grid(cls, {"fast": [2, 3], "slow": [10]}, random=50)
    assert len(everything) == 2


def test_sweep_ranks_stores_and_reports_overfitting(make_candles) -> None:
    frame = make_candles(1_200, seed=4)
    result = sweep("sma_cross", frame, grid=["fast=3:12:3", "slow=6:30:6"], cost=CostModel(fee_bps=10))
    assert result.engine == "kernel"
    assert result.n_combinations + result.skipped == 4 * 5
    assert result.skipped == 4  # (6, 6), (9, 6), (12, 6), (12, 12)
    sharpe = result.results["sharpe"].to_numpy()
    assert np.all(np.diff(sharpe) <= 0) and list(result.results["rank"]) == list(range(1, len(sharpe) + 1))
    of = result.overfitting
    assert of is not None and of.n_trials == result.n_combinations and 0 <= of.pbo <= 1
    assert 0.0 <= of.deflated_sharpe <= 1.0
    stored = load_run(result.sweep_id)
    assert stored.kind == "sweep" and stored.record["skipped"] == 4
    assert stored.table("results").equals(result.results)
    assert stored.record["params"] == result.best_params


def test_kernel_and_vectorbt_engines_give_the_same_table(make_candles) -> None:
    frame = make_candles(600, seed=8)
    grid = {"fast": [3, 6], "slow": [10, 25], "short": [True, False]}
    kw = dict(grid=grid, cost=CostModel(fee_bps=10, slippage_bps=1), allow_short=True, store=False)
    fast = sweep("ema_cross", frame, engine="kernel", **kw).results
    slow = sweep("ema_cross", frame, engine="vectorbt", **kw).results
    assert fast.select("fast", "slow", "short").equals(slow.select("fast", "slow", "short"))
    for column in ("final_equity", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "turnover"):
        a, b = fast[column].to_numpy(), slow[column].to_numpy()
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), column
    assert fast["trades"].equals(slow["trades"])
    # Re-targeting every bar (rebalance=True) goes through the kernel's per-bar order path.
    kw = dict(grid={"fast": [4], "slow": [15]}, cost=CostModel(fee_bps=10), rebalance=True, store=False)
    a = sweep("sma_cross", frame, engine="kernel", **kw).results
    b = sweep("sma_cross", frame, engine="vectorbt", **kw).results
    assert a["final_equity"][0] == pytest.approx(b["final_equity"][0], rel=1e-9)
    assert a["trades"][0] == b["trades"][0]


FILE_STRATEGY = """
import polars as pl
from quantdesk.indicators import ema, zscore
from quantdesk.strategies import Strategy, param

class Fade(Strategy):
    window = param(20, min=5, max=500)
    entry = param(1.5, min=0.5, max=5.0)

    def target(self, candles):
        z = zscore(candles["close"], self.window)
        up = ema(candles["close"], 50).diff() > 0
        return pl.select(pl.when((z < -self.entry) & up).then(1.0).when(z > self.entry).then(-0.5)
                         .otherwise(None).forward_fill().fill_null(0.0)).to_series()
"""


@pytest.mark.parametrize("allow_short", [False, True])
def test_strategies_without_a_fused_kernel_sweep_through_the_target_kernel(make_candles, tmp_path,
                                                                          allow_short: bool) -> None:
    frame = make_candles(900, seed=9)
    path = tmp_path / "fade.py"
    path.write_text(FILE_STRATEGY)
    cases = [("rsi_reversion", {"period": [7, 14], "oversold": [25.0, 35.0], "short": [True, False]}),
             (f"{path}:Fade", {"window": [10, 30], "entry": [1.0, 2.0]})]
    cost = CostModel(fee_bps=10, slippage_bps=2)
    for strategy, grid in cases:
        result = sweep(strategy, frame, grid=grid, store=False, cost=cost, allow_short=allow_short)
        assert result.engine == "targets" and result.n_combinations == len(list(itertools.product(*grid.values())))
        for row in result.results.iter_rows(named=True):
            single = backtest(strategy, frame, params={k: row[k] for k in grid}, cost=cost, allow_short=allow_short,
                              lookahead_samples=0, store=False)
            assert row["final_equity"] == single.metrics.final_equity, row  # the engine's arithmetic, to the bit
            assert row["trades"] == single.metrics.trades and row["fees_paid"] == pytest.approx(
                single.metrics.fees_paid, rel=1e-12)
            assert row["sharpe"] == pytest.approx(single.metrics.sharpe, rel=1e-9, abs=1e-12)
            assert row["max_drawdown"] == pytest.approx(single.metrics.max_drawdown, rel=1e-12, abs=1e-15)
        slow = sweep(strategy, frame, grid=grid, store=False, cost=cost, allow_short=allow_short, engine="vectorbt")
        assert slow.results.select(list(grid)).equals(result.results.select(list(grid)))  # the same ranking


def test_sweep_errors_are_actionable(make_candles) -> None:
    frame = make_candles(200)
    with pytest.raises(BacktestError, match="no valid combination"):
        sweep("sma_cross", frame, grid={"fast": [50], "slow": [10]}, store=False)
    with pytest.raises(BacktestError, match="cannot rank"):
        sweep("sma_cross", frame, grid={"fast": [5], "slow": [10]}, metric="luck", store=False)
    pair = {"BTC/USDT": frame, "ETH/USDT": make_candles(200, seed=3)}
    with pytest.raises(BacktestError, match="no sweep kernel"):
        sweep("momentum_rotation", pair, grid={"lookback": [10, 20]}, engine="kernel", store=False)


def test_cli_sweep_json_on_a_sample_lake() -> None:
    from quantdesk.cli import app
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=6)
    runner = CliRunner()
    out = runner.invoke(app, ["sweep", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m",
                              "--grid", "fast=4:12:4", "--grid", "slow=8:24:8", "--top", "3", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["combinations"] == 7 and payload["skipped"] == 2 and len(payload["top"]) == 3
    assert payload["sweep_id"].startswith("sweep-") and payload["engine"] == "kernel"
    assert set(payload["overfitting"]) >= {"deflated_sharpe", "pbo", "n_trials"}
    bad = runner.invoke(app, ["sweep", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m",
                              "--grid", "fast=oops"])
    assert bad.exit_code != 0 and "fast='oops'" in bad.output and len(bad.output.splitlines()) == 1


def test_top_and_summary_are_json_ready(make_candles) -> None:
    result = sweep("sma_cross", make_candles(300), grid={"fast": [3, 5], "slow": [20]}, store=False)
    summary = result.summary(top=1)
    json.dumps(summary, default=str)
    assert len(summary["top"]) == 1 and summary["best_params"] == result.best_params
    assert isinstance(result.top(5), pl.DataFrame) and not math.isnan(summary["top"][0]["final_equity"])


def test_a_tiny_memory_budget_gives_the_same_metrics(make_candles) -> None:
    from quantdesk.backtest.sweep_fast import fast_path_for
    from quantdesk.core import MarketRules

    frame = make_candles(1_000, seed=12)
    cls = load_strategy("sma_cross")
    combos, _ = expand_grid(cls, {"fast": list(range(2, 30, 3)), "slow": list(range(10, 80, 7))})
    path = fast_path_for(cls, {"x": frame})
    kw = dict(cost=CostModel(), rules=MarketRules(), initial_cash=1e4, allow_short=False, rebalance=False,
              timeframe_ms=3_600_000)
    roomy, _ = path.run(combos, **kw)
    # Three moving averages at a time and chunks of 5: windows are evicted and recomputed.
    tight, _ = path.run(combos, table_bytes=3 * 8 * len(frame), chunk_size=5, **kw)
    for key in ("final_equity", "sharpe", "trades", "max_drawdown"):
        assert np.array_equal(roomy[key], tight[key]), key


def test_sweep_is_callable_from_the_package_even_after_the_submodule_import(make_candles) -> None:
    import quantdesk
    import quantdesk.backtest.sweep  # noqa: F401 - rebinds quantdesk.backtest.sweep to the module
    from quantdesk.backtest import sweep as from_package

    result = from_package("sma_cross", make_candles(200), grid={"fast": [3], "slow": [9]}, store=False)
    assert result.n_combinations == 1
    assert quantdesk.sweep("sma_cross", make_candles(200), grid={"fast": [3], "slow": [9]}, store=False).engine == "kernel"
