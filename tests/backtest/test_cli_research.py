"""`quantdesk backtest | report | runs | reproduce | check lookahead` against a small sample lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.lake import Lake, write_sample

runner = CliRunner()

PEEKING = '''
import polars as pl
from quantdesk import Strategy, param

class Peek(Strategy):
    window = param(3, min=2, max=10)

    def target(self, candles):
        close = candles["close"]
        return (close.shift(-1) > close).cast(pl.Float64).fill_null(0.0)
'''

METRIC_KEYS = {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
               "max_drawdown_duration", "calmar", "trades", "win_rate", "profit_factor", "avg_trade",
               "exposure", "turnover", "fees_paid"}


@pytest.fixture
def sample_lake(quantdesk_home: Path) -> Lake:
    lake = Lake()
    write_sample(lake, symbols=2, days=3)
    return lake


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_backtest_report_runs_reproduce(sample_lake: Lake, quantdesk_home: Path) -> None:
    out = _json(["backtest", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m",
                 "--param", "fast=5", "--param", "slow=20", "--fee-bps", "10", "--slippage-bps", "2",
                 "--cash", "5000", "--json"])
    assert set(out["metrics"]) >= METRIC_KEYS
    assert out["params"] == {"fast": 5, "slow": 20}
    assert out["lookahead"]["passed"] is True
    assert out["snapshot"]["source"] == "lake" and out["snapshot"]["timeframe"] == "15m"
    assert out["snapshot"]["exchange"] == "synthetic"
    assert out["trades"], "3 days of 15m candles give some crossings"
    trade = out["trades"][0]
    assert {"entry_ts", "exit_ts", "entry_price", "exit_price", "side", "qty", "pnl", "fees"} <= set(trade)
    run_id = out["run_id"]
    report = _json(["report", run_id, "--json"])
    assert Path(report["path"]).exists() and Path(report["path"]).parent == quantdesk_home / "reports"
    plain = runner.invoke(app, ["report", run_id])
    assert plain.exit_code == 0 and plain.stdout.strip() == report["path"]
    runs = _json(["runs", "--json"])
    assert [r["run_id"] for r in runs] == [run_id]
    assert _json(["reproduce", run_id, "--json"])["matches"] is True


def test_backtest_errors_are_one_line(sample_lake: Lake) -> None:
    bad = runner.invoke(app, ["backtest", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m",
                              "--param", "fast=50", "--param", "slow=20"])
    assert bad.exit_code != 0 and "fast < slow" in bad.output
    unknown = runner.invoke(app, ["backtest", "no_such", "--symbol", "BTC/USDT"])
    assert unknown.exit_code != 0 and "no strategy named" in unknown.output
    malformed = runner.invoke(app, ["backtest", "sma_cross", "--symbol", "BTC/USDT", "--param", "fast"])
    assert malformed.exit_code != 0 and "key=value" in malformed.output
    missing = runner.invoke(app, ["report", "backtest-nope"])
    assert missing.exit_code != 0 and "no run" in missing.output


def test_check_lookahead_passes_builtins_and_fails_a_peeking_file(sample_lake: Lake, tmp_path: Path) -> None:
    ok = _json(["check", "lookahead", "ema_cross", "--symbol", "ETH/USDT", "--timeframe", "1h",
                "--samples", "10", "--param-sets", "2", "--json"])
    assert ok["passed"] is True and len(ok["verdicts"]) == 3
    path = tmp_path / "peek.py"
    path.write_text(PEEKING)
    bad = runner.invoke(app, ["check", "lookahead", f"{path}:Peek", "--symbol", "ETH/USDT",
                              "--timeframe", "1h", "--samples", "0"])
    assert bad.exit_code == 1
    assert "looks ahead: at bar" in bad.output and "window" in bad.output
