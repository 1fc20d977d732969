"""An ML strategy stored like any run, promoted with its model pinned, and replayed with parity (issue 27)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.backtest import LakeQuery, backtest, load_run, write_report
from quantdesk.cli import app
from quantdesk.core.costs import CostModel
from quantdesk.lake import Lake, generate_candles
from quantdesk.ledger import Ledger

SYMBOL = "BTC/USDT"
COST = CostModel(fee_bps=10.0, slippage_bps=2.0)
STRATEGY = '''
from quantdesk.ml import MLStrategy, param


class Small(MLStrategy):
    model = param("ridge")
    train_window = param(150, min=2, max=100_000)
    retrain_every = param(60, min=1, max=100_000)
    horizon = param(3, min=1, max=100)
    features = param("ret_1,ret_3,ret_12,vol_12,range_12,hl_range,body")
'''


@pytest.fixture
def ml_lake(tmp_path: Path) -> tuple[str, pl.DataFrame]:
    candles = generate_candles(SYMBOL, minutes=700, seed=5)
    Lake().write(candles, exchange="synthetic", symbol=SYMBOL, timeframe="1m")
    path = tmp_path / "small_ml.py"
    path.write_text(STRATEGY)
    return f"{path}:Small", candles


def test_an_ml_backtest_is_stored_with_its_models_and_importances(ml_lake: tuple[str, pl.DataFrame]) -> None:
    ref, candles = ml_lake
    query = LakeQuery(symbols=(SYMBOL,), timeframe="1m", exchange="synthetic")
    result = backtest(ref, query, cost=COST, allow_short=True)
    assert result.lookahead is not None and result.lookahead.passed
    run = load_run(result.run_id)
    ml = run.record["extra"]["ml"]
    assert ml["retrains"] >= 5 and len(ml["artifact"]) == 64
    assert ml["artifacts"][-1]["artifact"] == ml["artifact"]
    assert ml["training_window"]["samples"] == 150
    importance = run.table("ml_importance")
    assert set(importance["feature"]) == {"ret_1", "ret_3", "ret_12", "vol_12", "range_12", "hl_range", "body"}
    page = write_report(result.run_id).read_text()
    assert "Feature importance (permutation, out of sample)" in page and ml["artifact"][:12] in page

    from quantdesk.promotion import collect_evidence

    evidence = collect_evidence(result.run_id)
    assert evidence.model is not None and evidence.model["artifact"] == ml["artifact"]
    assert evidence.model["training_window"] == ml["training_window"]
    # a second backtest reuses every model: the same artifacts, the same run metrics
    again = backtest(ref, query, cost=COST, allow_short=True, lookahead_samples=0)
    assert load_run(again.run_id).record["extra"]["ml"]["artifacts"] == ml["artifacts"]
    assert again.metrics == result.metrics


def test_parity_passes_for_an_ml_deployment_and_each_retrain_is_audited(ml_lake: tuple[str, pl.DataFrame]) -> None:
    from quantdesk.live import RunSpec, replay
    from quantdesk.promotion import create_deployment

    ref, candles = ml_lake
    with Ledger() as ledger:
        create_deployment(ledger, "ml-paper", strategy=ref, params={}, symbols=[SYMBOL], timeframe="1m",
                          actor="alice", exchange="synthetic", capital=10_000, cost=COST)
    start, end = candles["ts"][0].isoformat(), (candles["ts"][-1] + timedelta(minutes=1)).isoformat()
    result = CliRunner().invoke(app, ["parity", "ml-paper", "--start", start, "--end", end, "--strict", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["backtest_orders"] > 0

    # the live path (strict replay = Runner.step on the trailing warmup window) audits each model it trades with
    spec = RunSpec(name="ml-audit", strategy=ref, params={}, symbols=(SYMBOL,), timeframe="1m", cost=COST,
                   lake_exchange="synthetic")
    run = replay(spec, start, end, strict=True)
    with Ledger(run.ledger_url) as scratch:
        audits = scratch.audit_log(action="ml.retrain")
    stored = backtest(ref, LakeQuery(symbols=(SYMBOL,), timeframe="1m", exchange="synthetic"), cost=COST,
                      lookahead_samples=0, store=False)
    got = [(a.payload["retrained_at_ts"], a.payload["artifact"][:8]) for a in audits]
    want = [(a["ts"], a["artifact"][:8]) for a in stored.extra["ml"]["artifacts"]]
    assert got == want, (got, want)
    assert [a.payload["artifact"] for a in audits] == [
        a["artifact"] for a in stored.extra["ml"]["artifacts"]]
