"""`quantdesk parity` and `quantdesk drift` on registered deployments, and drift of a real paper history."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.costs import CostModel
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.live import RunSpec, replay
from quantdesk.parity import drift_report
from tests.parity.parity_helpers import SYMBOL

COST = CostModel(fee_bps=10.0, slippage_bps=2.0)
PEEKING = '''
import polars as pl
from quantdesk.strategies import Strategy, param


class Peek(Strategy):
    """Long when the NEXT close is higher: lookahead, on purpose."""

    window = param(5, min=2, max=100)

    def target(self, candles):
        close = candles["close"]
        return (close.shift(-1) > close).cast(pl.Float64).fill_null(0.0)
'''


def _paper_history(ledger_url: str, spec: RunSpec, candles: pl.DataFrame, *, extra_slippage_bps: float) -> None:
    """Paper-trade `spec` over the candles with the real runner and paper broker, paying extra slippage."""
    worse = CostModel(fee_bps=spec.cost.fee_bps, slippage_bps=spec.cost.slippage_bps + extra_slippage_bps)
    live_like = RunSpec.from_deployment(spec, cost=worse)
    replay(live_like, candles["ts"][0], candles["ts"][-1] + timedelta(minutes=1), frames={SYMBOL: candles},
           ledger_url=ledger_url)


def test_drift_of_a_paper_history_with_injected_slippage(tmp_path: Path, synthetic_candles: pl.DataFrame) -> None:
    spec = RunSpec(name="paper-sma", strategy="sma_cross", params={"fast": 5, "slow": 20}, symbols=(SYMBOL,),
                   timeframe="1m", cost=COST)
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    candles = synthetic_candles.head(600)
    _paper_history(url, spec, candles, extra_slippage_bps=5.0)
    with Ledger(url) as ledger:
        report = drift_report(ledger, spec, candles={SYMBOL: candles})
    assert report.matched_trades > 4 and report.missed_trades == 0 and report.extra_trades == 0
    # (1 + 7 bp) / (1 + 2 bp) on buys, (1 - 7 bp) / (1 - 2 bp) on sells: 5 bp either way, to 1e-3.
    assert report.drift_bps == pytest.approx(5.0, rel=1e-3)
    assert report.mean_slippage_bps == pytest.approx(5.0, rel=1e-3)
    assert report.actual_pnl < report.backtest_pnl


@pytest.fixture
def registered(tmp_path: Path, synthetic_candles: pl.DataFrame) -> pl.DataFrame:
    """Register deployments in the default ledger and write their candles into the default lake."""
    from quantdesk.promotion import create_deployment

    candles = synthetic_candles.head(600)
    Lake().write(candles, exchange="synthetic", symbol=SYMBOL, timeframe="1m")
    peek = tmp_path / "peek.py"
    peek.write_text(PEEKING)
    with Ledger() as ledger:
        for name, strategy, params in (("paper-sma", "sma_cross", {"fast": 5, "slow": 20}),
                                       ("peeking", f"{peek}:Peek", {})):
            create_deployment(ledger, name, strategy=strategy, params=params, symbols=[SYMBOL], timeframe="1m",
                              actor="alice", exchange="synthetic", capital=10_000, cost=COST)
        url = str(ledger.engine.url.render_as_string(hide_password=False))
    spec = RunSpec(name="paper-sma", strategy="sma_cross", params={"fast": 5, "slow": 20}, symbols=(SYMBOL,),
                   timeframe="1m", cost=COST)
    _paper_history(url, spec, candles, extra_slippage_bps=5.0)
    from quantdesk.promotion import record_runner_progress

    with Ledger() as ledger:  # the runner's progress: its first and its last bar
        for ts in (candles["ts"][0], candles["ts"][-1]):
            record_runner_progress(ledger, "paper-sma", last_bar_ts=ts, pnl=0)
    return candles


def test_cli_drift_prints_the_gate_figure(registered: pl.DataFrame) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["drift", "paper-sma", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["drift_bps"] == pytest.approx(5.0, rel=1e-3)
    assert payload["deployment"] == "paper-sma" and payload["missed_trades"] == 0
    # The default window runs from the runner's first bar to the close of its last one.
    assert payload["bars"] == len(registered) and payload["days"] == pytest.approx(len(registered) / 1440)
    assert payload["trades"][0]["slippage_bps"] == pytest.approx(5.0, rel=1e-2)
    text = runner.invoke(app, ["drift", "paper-sma", "--limit", "2"])
    assert text.exit_code == 0 and "drift 5.00 bps" in text.stdout and "more trades" in text.stdout


def test_cli_parity_passes_for_a_faithful_deployment(registered: pl.DataFrame) -> None:
    start, end = registered["ts"][0].isoformat(), (registered["ts"][-1] + timedelta(minutes=1)).isoformat()
    result = CliRunner().invoke(app, ["parity", "paper-sma", "--start", start, "--end", end, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["differences"] == [] and payload["backtest_orders"] > 0
    strict = CliRunner().invoke(app, ["parity", "paper-sma", "--start", start, "--end", end, "--strict"])
    assert strict.exit_code == 0 and "PARITY OK" in strict.stdout


def test_cli_parity_fails_and_lists_bars_for_a_peeking_strategy(registered: pl.DataFrame) -> None:
    start, end = registered["ts"][0].isoformat(), registered["ts"][200].isoformat()
    runner = CliRunner()
    strict = runner.invoke(app, ["parity", "peeking", "--start", start, "--end", end, "--strict", "--limit", "3"])
    assert strict.exit_code == 1
    assert "PARITY FAILED" in strict.stdout and "target backtest=1 replay=0" in strict.stdout
    assert "more (all of them with --json)" in strict.stdout
    as_json = runner.invoke(app, ["parity", "peeking", "--start", start, "--end", end, "--strict", "--json"])
    assert as_json.exit_code == 1
    differences = json.loads(as_json.stdout)["differences"]
    assert len(differences) > 3 and {d["kind"] for d in differences} >= {"target"}
    # Fast replay refuses a strategy whose lookahead verdict is not clean: one line, non-zero.
    fast = runner.invoke(app, ["parity", "peeking", "--start", start, "--end", end])
    assert fast.exit_code != 0 and "lookahead" in fast.output.lower()


def test_cli_reports_an_unknown_deployment_in_one_line() -> None:
    result = CliRunner().invoke(app, ["drift", "nope"])
    assert result.exit_code != 0 and "no deployment named 'nope'" in result.output
