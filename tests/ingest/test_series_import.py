"""`quantdesk import FILE --series NAME`: a timestamped CSV/Parquet column into the lake as a series.

Bad input gets one line that names the fix, and the lake is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.lake import Lake, read_series

runner = CliRunner()
MARKET = ["--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT"]


def _lake_checksums(home: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((home / "lake").rglob("*.parquet"))}


def _csv(tmp_path: Path, text: str, name: str = "score.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_csv_column_becomes_a_series_and_a_second_import_changes_nothing(tmp_path: Path, quantdesk_home: Path) -> None:
    path = _csv(tmp_path, "date,fear_greed,note\n2024-01-01,71,greed\n2024-01-02,65,greed\n2024-01-03 00:00,48,neutral\n")
    args = ["import", str(path), "--series", "fear_greed", "--time-column", "date", *MARKET, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["name"], report["column"], report["rows"], report["inserted"]) == ("fear_greed", "fear_greed", 3, 3)
    stored = read_series(Lake(), "binanceusdm", "BTC/USDT:USDT", "fear_greed")
    assert stored["value"].to_list() == [71.0, 65.0, 48.0]
    assert stored["ts"][0] == datetime(2024, 1, 1, tzinfo=UTC)
    before = _lake_checksums(quantdesk_home)
    again = json.loads(runner.invoke(app, args).stdout)
    assert (again["inserted"], again["unchanged"]) == (0, 3) and _lake_checksums(quantdesk_home) == before


def test_parquet_with_epoch_seconds_and_a_named_column(tmp_path: Path, quantdesk_home: Path) -> None:
    path = tmp_path / "flows.parquet"
    pl.DataFrame({"time": [1_704_067_200, 1_704_070_800], "net_flow": [1.5, -2.25]}).write_parquet(path)
    result = runner.invoke(app, ["import", str(path), "--series", "exchange_net_flow", "--column", "net_flow",
                                 "--time-column", "time", *MARKET])
    assert result.exit_code == 0, result.output
    assert "series exchange_net_flow of binanceusdm BTC/USDT:USDT: 2 points" in result.stdout
    stored = Lake().numeric.read("exchange_net_flow", exchange="binanceusdm", symbol="BTC/USDT:USDT")
    assert stored["ts"].to_list() == [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC)]
    assert stored["value"].to_list() == [1.5, -2.25]


@pytest.mark.parametrize(("text", "options", "message"), [
    ("ts,score\n2024-01-01,1\n", ["--column", "sentiment"],
     "score.csv has no column 'sentiment' (columns: ts, score); name one with --column"),
    ("date,score\n2024-01-01,1\n", ["--column", "score"],
     "score.csv has no column 'ts' (columns: date, score); name one with --time-column"),
    ("ts,score\n2024-01-01,1\n2024-01-02,high\n", ["--column", "score"],
     "1 value(s) are not finite numbers (first: 'high'"),
    ("ts,score\n2024-01-01,1\n2024-13-45,2\n", ["--column", "score"],
     "1 timestamp(s) do not parse (first: '2024-13-45')"),
    ("ts,score\n2024-01-01,1\n2024-01-01T00:00:00Z,2\n", ["--column", "score"],
     "1 timestamp(s) repeat (first: 2024-01-01 00:00:00+00:00); keep one value per timestamp"),
    ("ts,score\n2024-01-01,1\n", ["--column", "score", "--timeframe", "1h"],
     "--series imports one column with its timestamps: drop --timeframe"),
])
def test_bad_series_files_get_one_line_and_leave_the_lake_as_it_was(tmp_path: Path, quantdesk_home: Path, text: str,
                                                                    options: list[str], message: str) -> None:
    good = _csv(tmp_path, "ts,score\n2023-12-31,0.5\n", "good.csv")
    assert runner.invoke(app, ["import", str(good), "--series", "score", *MARKET]).exit_code == 0
    before = _lake_checksums(quantdesk_home)
    result = runner.invoke(app, ["import", str(_csv(tmp_path, text)), "--series", "score", *MARKET, *options])
    assert result.exit_code in (1, 2), result.output  # 1: bad data, 2: bad options
    assert message in result.stderr.replace("\n", " ") and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 2  # one line (wrapped at most once by the terminal width)
    assert _lake_checksums(quantdesk_home) == before


def test_a_series_needs_a_symbol_and_a_plain_name(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ts,score\n2024-01-01,1\n")
    no_symbol = runner.invoke(app, ["import", str(path), "--series", "score"])
    assert no_symbol.exit_code == 2 and "--series needs --symbol" in no_symbol.stderr
    bad_name = runner.invoke(app, ["import", str(path), "--series", "my score", "--column", "score", *MARKET])
    assert bad_name.exit_code == 1 and "series name 'my score' is not allowed" in bad_name.stderr
