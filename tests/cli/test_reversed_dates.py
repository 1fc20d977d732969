"""A reversed window says so (not "no candles in the requested range"); type errors name the type in English."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.errors import DataError, StrategyError
from quantdesk.lake import Lake, write_sample
from quantdesk.strategies import load_strategy

runner = CliRunner()
WHERE = ["--exchange", "synthetic", "--symbol", "BTC/USDT", "--timeframe", "1h"]
GRID = ["--grid", "fast=5:10:5", "--grid", "slow=20:30:10"]


@pytest.fixture
def sample_lake(quantdesk_home: Path) -> Lake:
    lake = Lake()
    write_sample(lake, symbols=1, days=5)
    return lake


@pytest.mark.parametrize("command", [
    ["backtest", "sma_cross", *WHERE],
    ["sweep", "sma_cross", *WHERE, *GRID],
    ["walkforward", "sma_cross", *WHERE, *GRID, "--train", "2d", "--test", "1d"],
    ["check", "lookahead", "sma_cross", *WHERE],
], ids=lambda c: " ".join(c[:2]))
def test_reversed_dates_are_named_as_such(command: list[str], sample_lake: Lake) -> None:
    result = runner.invoke(app, [*command, "--start", "2024-01-04", "--end", "2024-01-02"])
    assert result.exit_code != 0
    assert "--start 2024-01-04 00:00 is after --end 2024-01-02 00:00" in result.output, result.output
    assert "no candles" not in result.output


def test_the_lake_and_replay_refuse_a_reversed_window(sample_lake: Lake) -> None:
    with pytest.raises(DataError, match="start 2024-01-04 00:00 is after end 2024-01-02"):
        sample_lake.candles("BTC/USDT", "1h", start="2024-01-04", end="2024-01-02")
    with pytest.raises(DataError, match="is the same as"):
        sample_lake.candles("BTC/USDT", "1h", start="2024-01-02", end="2024-01-02")


@pytest.mark.parametrize(("value", "expected"), [("1.5", "is not an integer; give an integer like 10"),
                                                 ("ten", "is not an integer; give an integer like 10")])
def test_parameter_type_errors_read_as_english(value: str, expected: str) -> None:
    spec = load_strategy("sma_cross").params()["fast"]
    with pytest.raises(StrategyError) as caught:
        spec.coerce(value)
    assert expected in str(caught.value) and "a int" not in str(caught.value)
