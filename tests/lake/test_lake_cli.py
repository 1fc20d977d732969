"""`quantdesk sample`, `quantdesk lake status`, `quantdesk lake quarantine`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.lake import Lake

runner = CliRunner()


def test_sample_is_deterministic_idempotent_and_labelled_synthetic(quantdesk_home: Path) -> None:
    first = runner.invoke(app, ["sample", "--symbols", "2", "--days", "3", "--json"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["synthetic"] is True and payload["exchange"] == "synthetic"
    assert set(payload["symbols"]) == {"BTC/USDT", "ETH/USDT"}
    inserted = payload["symbols"]["BTC/USDT"]["inserted"]
    assert 3 * 1440 - 200 < inserted <= 3 * 1440
    again = json.loads(runner.invoke(app, ["sample", "--symbols", "2", "--days", "3", "--json"]).stdout)
    assert again["symbols"]["BTC/USDT"] == {
        "inserted": 0, "updated": 0, "unchanged": inserted, "quarantined": 0, "files_written": 0,
    }  # fmt: skip
    assert Lake().root == quantdesk_home / "lake"

    status = runner.invoke(app, ["lake", "status", "--json"])
    assert status.exit_code == 0, status.output
    series = json.loads(status.stdout)["series"]
    assert [(s["exchange"], s["symbol"], s["timeframe"], s["synthetic"]) for s in series] == [
        ("synthetic", "BTC/USDT", "1m", True),
        ("synthetic", "ETH/USDT", "1m", True),
    ]
    assert series[0]["rows"] == inserted
    assert series[0]["missing_bars"] == 3 * 1440 - inserted  # this seed has its outage inside the range

    table = runner.invoke(app, ["lake", "status"])
    assert table.exit_code == 0 and "synthetic" in table.stdout


def test_quarantine_lists_rejected_rows(quantdesk_home: Path) -> None:
    frame = pl.DataFrame(
        {"ts": [1704067200000, 1704067260000], "open": [1.0, 1.0], "high": [2.0, 0.5], "low": [0.5, 0.9],
         "close": [1.5, 1.0], "volume": [1.0, 1.0]}
    )  # fmt: skip
    Lake().write(frame, exchange="binance", symbol="BTC/USDT", timeframe="1m")
    result = runner.invoke(app, ["lake", "quarantine", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["symbol"], r["reason"]) for r in rows] == [("BTC/USDT", "high_below_low")]
    assert "high_below_low" in runner.invoke(app, ["lake", "quarantine"]).stdout


def test_errors_are_one_line_with_a_non_zero_exit() -> None:
    result = runner.invoke(app, ["sample", "--symbols", "99"])
    assert result.exit_code != 0
    assert "out of range" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    empty = runner.invoke(app, ["lake", "status"])
    assert empty.exit_code == 0 and "empty" in empty.stdout
