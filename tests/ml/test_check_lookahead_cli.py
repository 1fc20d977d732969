"""`quantdesk check lookahead` on ML strategies: both planted leaks fail, the clean one passes (issue 27)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.lake import Lake, write_sample

STRATEGIES = '''
import polars as pl
from quantdesk.ml import MLStrategy, param, register_feature

register_feature("next_bar_return", lambda: pl.col("close").shift(-1) / pl.col("close") - 1.0)


class Clean(MLStrategy):
    model = param("ridge")
    train_window = param(200, min=2, max=100_000)
    retrain_every = param(48, min=1, max=100_000)
    horizon = param(4, min=1, max=100)


class LeakyWindow(Clean):
    purge = param(False)  # the training window's labels cross the prediction bar


class PeekingFeature(Clean):
    features = param("ret_1,ret_4,vol_12,next_bar_return")
'''


@pytest.fixture
def strategies(quantdesk_home: Path, tmp_path: Path) -> Path:
    write_sample(Lake(), symbols=1, days=8)
    path = tmp_path / "ml_cases.py"
    path.write_text(STRATEGIES)
    return path


def _check(ref: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", "lookahead", ref, "--symbol", "BTC/USDT", "--timeframe", "15m",
                                      "--samples", "6", "--json"])
    return result.exit_code, result.stdout


def test_the_clean_ml_strategy_passes_and_both_planted_leaks_fail(strategies: Path) -> None:
    code, out = _check(f"{strategies}:Clean")
    assert code == 0 and json.loads(out)["passed"] is True
    for name in ("LeakyWindow", "PeekingFeature"):
        code, out = _check(f"{strategies}:{name}")
        verdict = json.loads(out)["verdicts"][0]
        assert code == 1 and verdict["passed"] is False, name
        assert "looks ahead: at bar" in verdict["detail"], name
