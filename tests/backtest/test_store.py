"""The run store: runs are saved under QUANTDESK_HOME, listed, loaded, reported and reproduced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from quantdesk.backtest import backtest, list_runs, load_run, reproduce, save_run
from quantdesk.backtest.report import monthly_returns, write_report
from quantdesk.core import BacktestError, CostModel
from quantdesk.strategies import strategy_source_hash
from quantdesk.strategies.builtin import SmaCross


def test_backtest_is_stored_with_everything_needed_to_reproduce_it(quantdesk_home: Path, make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(300, seed=8)
    result = backtest("sma_cross", candles, params={"fast": 5, "slow": 21},
                      cost=CostModel(fee_bps=12, slippage_bps=3))
    assert result.run_id is not None
    run = load_run(result.run_id)
    assert run.path.parent == quantdesk_home / "runs"
    rec = run.record
    assert rec["strategy"] == "sma_cross" and rec["params"] == {"fast": 5, "slow": 21}
    assert rec["code_hash"] == strategy_source_hash(SmaCross)
    assert rec["cost"] == {"fee_bps": 12.0, "slippage_bps": 3.0}
    assert rec["snapshot"]["bars"] == 300 and len(rec["snapshot"]["checksum"]) == 64
    assert rec["lookahead"]["passed"] is True
    assert run.metrics == result.metrics
    assert {"equity", "trades", "positions", "orders", "candles"} <= set(run.tables())
    assert run.table("trades").height == result.trades.height
    listed = list_runs()
    assert listed["run_id"].to_list() == [result.run_id]
    rep = reproduce(result.run_id)
    assert rep.matches and rep.code_hash_matches and rep.data_matches, rep.differences


def test_reproduce_notices_changed_candles(make_candles: Callable[..., pl.DataFrame]) -> None:
    result = backtest("sma_cross", make_candles(200, seed=9), params={"fast": 5, "slow": 21})
    run = load_run(result.run_id)
    candles = run.table("candles")
    candles.with_columns(pl.col("close") * 1.01).write_parquet(run.path / "candles.parquet")
    rep = reproduce(result.run_id)
    assert not rep.matches and not rep.data_matches


def test_other_run_kinds_and_missing_runs() -> None:
    run_id = save_run("sweep", {"strategy": "sma_cross", "params": {}, "metrics": {"sharpe": float("inf")}},
                      {"results": pl.DataFrame({"fast": [5, 10], "sharpe": [1.0, 2.0]})})
    run = load_run(run_id)
    assert run.kind == "sweep" and run.record["metrics"]["sharpe"] is None
    assert run.table("results")["fast"].to_list() == [5, 10]
    assert list_runs("sweep")["run_id"].to_list() == [run_id]
    assert list_runs("backtest").is_empty()
    with pytest.raises(BacktestError, match="no run"):
        load_run("backtest-nope")
    with pytest.raises(BacktestError, match="no table"):
        run.table("equity")
    with pytest.raises(BacktestError, match="backtest runs"):
        reproduce(run_id)


def test_report_is_a_self_contained_tearsheet(quantdesk_home: Path, make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(24 * 70, seed=11)  # 70 days of hourly bars: three months
    result = backtest("sma_cross", candles, params={"fast": 10, "slow": 50})
    path = write_report(result.run_id)
    assert path == quantdesk_home / "reports" / f"{result.run_id}.html"
    page = path.read_text()
    for section in ("Equity and drawdown", "Monthly returns", "Trades", "sharpe", "Bokeh"):
        assert section in page
    assert "<script src=\"http" not in page  # no CDN: opens offline
    monthly = monthly_returns(result.equity, 10_000.0)
    assert monthly.columns == ["year", "1", "2", "3"]
    growth = (1 + monthly.select(pl.exclude("year")).to_numpy()).prod()
    assert growth == pytest.approx(result.metrics.final_equity / 10_000.0)
