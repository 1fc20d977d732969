"""The desk report: figures from the ledger, a papermill notebook to HTML, Chromium to PDF, and a notification."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.ops.reports import scheduled_desk_reports
from quantdesk.reports.desk import desk_snapshot, write_desk_report

NOW = datetime(2024, 1, 8, 6, 0, tzinfo=UTC)  # a Monday
needs_pdf = pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("pdftotext")),
                               reason="chromium and pdftotext are absent (.ci/run installs them)")


def _book(ledger: Ledger) -> None:
    from quantdesk.promotion import create_deployment

    create_deployment(ledger, "btc-sma", strategy="sma_cross", symbols=("BTC/USDT",), timeframe="1h", actor="ops")
    trades = [("buy", "0.5", "40000", NOW - timedelta(hours=5)), ("sell", "0.5", "41000", NOW - timedelta(hours=2)),
              ("buy", "1", "39000", NOW - timedelta(days=3))]  # the last is outside the daily window
    for i, (side, qty, price, ts) in enumerate(trades):
        cid = f"qd-{i:032x}"
        ledger.record_intent(client_order_id=cid, venue="sim", symbol="BTC/USDT", side=side, order_type="market",
                             qty=qty, deployment="btc-sma")
        ledger.record_fill(venue="sim", trade_id=f"t{i}", symbol="BTC/USDT", side=side, qty=qty, price=price, ts=ts,
                           fee="2", client_order_id=cid)
    ledger.record_risk_event(code="MAX_NOTIONAL", detail="too big", deployment="btc-sma", symbol="BTC/USDT",
                             approved=False)


def test_the_snapshot_adds_up_the_periods_fills_by_deployment(quantdesk_home: Path) -> None:
    with Ledger(clock=ManualClock(NOW - timedelta(hours=1))) as ledger:
        _book(ledger)
        daily = desk_snapshot(ledger, Lake(), period="daily", now=NOW, reports_dir=quantdesk_home / "reports")
        weekly = desk_snapshot(ledger, Lake(), period="weekly", now=NOW, reports_dir=quantdesk_home / "reports")
    [row] = daily["pnl"]
    # -0.5*40000 - 2 + 0.5*41000 - 2 = 496: what the two fills of the day left in cash
    assert (row["deployment"], row["fills"], row["cash_flow"], row["fees"]) == ("btc-sma", 2, 496.0, 4.0)
    assert weekly["pnl"][0]["fills"] == 3 and weekly["total_cash_flow"] == 496.0 - 39002.0
    assert [e["code"] for e in daily["risk_events"]] == ["MAX_NOTIONAL"]
    assert daily["exposure"] == [{"venue": "sim", "symbol": "BTC/USDT", "qty": 1.0, "cost": 38500.0}]


@needs_pdf
def test_the_daily_report_is_html_and_pdf_and_its_summary_is_notified(quantdesk_home: Path) -> None:
    write_sample(Lake(), symbols=1, days=2)
    with Ledger(clock=ManualClock(NOW - timedelta(hours=1))) as ledger:
        _book(ledger)
        report = write_desk_report(ledger, period="daily", now=NOW)
        [message] = [m for m in LedgerOutbox(ledger).history() if m.event_type == "daily_pnl"]
    assert report.html.exists() and report.pdf is not None and report.pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("Daily report for 2024-01-08", "PnL by deployment", "btc-sma", "MAX_NOTIONAL", "Data health"):
        assert expected in text, (expected, text[:1500])
    assert message.payload["total_cash_flow"] == 496.0 and message.payload["report"] == str(report.pdf)


@needs_pdf
def test_the_monitor_schedules_the_daily_report_once_and_the_weekly_on_mondays(quantdesk_home: Path) -> None:
    with Ledger(clock=ManualClock(NOW)) as ledger:
        first = scheduled_desk_reports(ledger, pdf=False)
        again = scheduled_desk_reports(ledger, pdf=False)
        tuesday = scheduled_desk_reports(ledger, now=NOW + timedelta(days=1), pdf=False)
    assert sorted(p.name for p in first) == ["daily-2024-01-08.html", "weekly-2024-01-08.html"]
    assert again == [] and [p.name for p in tuesday] == ["daily-2024-01-09.html"]


@needs_pdf
def test_a_tearsheet_prints_to_pdf_from_the_cli(quantdesk_home: Path) -> None:
    import sys

    from quantdesk.backtest import LakeQuery, backtest

    write_sample(Lake(), symbols=1, days=2)
    run = backtest("sma_cross", LakeQuery.of("BTC/USDT", "15m"), params={"fast": 4, "slow": 16})
    cli = str(Path(sys.executable).with_name("quantdesk"))
    done = subprocess.run([cli, "report", run.run_id, "--pdf"], capture_output=True, text=True,
                          env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr
    pdf = Path(done.stdout.strip())
    assert pdf.suffix == ".pdf" and pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "sma_cross" in text
