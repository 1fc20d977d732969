"""CLI tables read at 80 columns: whole headers, hidden columns named, `--wide` shows all, `--json` untouched."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from quantdesk.ledger import Ledger

CLI = Path(sys.executable).parent / "quantdesk"
ORDER_HEADERS = ["client order id", "symbol", "side", "qty", "status", "filled", "price", "type", "venue", "ext"]


def _run(*args: str, columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    run = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _headers(table: str) -> list[str]:
    header_line = next(line for line in table.splitlines() if "┃" in line)
    return [cell.strip() for cell in header_line.strip("┃ ").split("┃")]


@pytest.fixture
def ledger_with_orders(quantdesk_home: Path) -> None:
    with Ledger() as ledger:
        for i in range(3):
            ledger.record_intent(client_order_id=f"qd-{i:032x}", venue="binance-main-account", symbol="BTC/USDT",
                                 side="buy", order_type="limit", qty="0.01", price="42000.5", deployment="btc-sma")


def test_orders_at_80_columns_keep_whole_headers_and_name_what_is_hidden(ledger_with_orders: None) -> None:
    out = _run("orders", columns=80)
    headers = _headers(out)
    assert headers[:5] == ORDER_HEADERS[:5], out
    assert all(h in ORDER_HEADERS for h in headers), f"a header was cut: {headers}"
    assert not re.search(r"\w…", out), out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    hidden = [h for h in ORDER_HEADERS if h not in headers]
    assert hidden and f"{len(hidden)} column(s) hidden" in out and "--wide" in out
    assert "qd-" + "0" * 32 in out, "the client order id (what `cancel` takes) is never cut"


def test_wide_shows_every_column_and_json_is_unchanged(ledger_with_orders: None) -> None:
    wide = _run("orders", "--wide", columns=80)
    assert _headers(wide) == ORDER_HEADERS and "hidden" not in wide
    assert "binance-main-account" in wide
    roomy = _run("orders", columns=200)
    assert _headers(roomy) == ORDER_HEADERS, "with room, nothing is hidden"
    narrow, broad = json.loads(_run("orders", "--json", columns=80)), json.loads(_run("orders", "--json", columns=200))
    assert narrow == broad
    assert set(narrow["orders"][0]) >= {"client_order_id", "venue", "symbol", "side", "type", "qty", "price", "status"}


@pytest.mark.parametrize("command", [["positions"], ["lake", "status"], ["audit", "log"], ["venue", "list"],
                                     ["deployments"], ["runs"]], ids=" ".join)
def test_every_table_command_offers_wide(command: list[str], quantdesk_home: Path) -> None:
    assert "--wide" in _run(*command, "--help", columns=120)


def test_cells_read_as_on_the_desk_no_raw_python_values(quantdesk_home: Path) -> None:
    """`quantdesk orders` and `quantdesk audit`-style tables: times as `... UTC`, quantities as stored,
    a missing price as an em dash, booleans as words (issue 24); `--json` keeps the raw values."""
    with Ledger() as ledger:
        ledger.record_intent(client_order_id="qd-" + "e" * 32, venue="sim", symbol="BTC/USDT", side="buy",
                             order_type="market", qty="1500.25000000", deployment="btc-sma")
    table = _run("orders", "--wide", columns=200)
    row = next(line for line in table.splitlines() if "qd-eeee" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[3] == "1,500.25" and cells[6] == "—" and cells[9] == "no", cells
    assert not re.search(r"\bNone\b|\bTrue\b|\bFalse\b", table), table
    raw = json.loads(_run("orders", "--json", columns=200))
    assert raw["orders"][0]["qty"] in ("1500.25000000", "1500.25", 1500.25), "--json keeps full precision"
