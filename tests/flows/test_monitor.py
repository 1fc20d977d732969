"""The monitor: stale data of a running deployment is stored, audited and notified; the outbox is drained."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.ops import run_monitor
from tests.lake.lake_helpers import candles

T0_MS = 1704067200000  # 2024-01-01


def _running_deployment(ledger: Ledger) -> None:
    from quantdesk.promotion import DeploymentState, create_deployment, record_runner_progress

    create_deployment(ledger, "btc", strategy="sma_cross", symbols=("BTC/USDT",), timeframe="1m", actor="ops",
                      exchange="binance")
    record_runner_progress(ledger, "btc", state=DeploymentState.RUNNING, detail="", actor="runner:btc")


def test_stale_candles_of_a_running_deployment_are_a_stored_notified_breach(quantdesk_home: Path) -> None:
    Lake().write(candles(list(range(120)), t0_ms=T0_MS), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    fresh = datetime.fromtimestamp((T0_MS + 121 * 60_000) / 1000, UTC)
    with Ledger(clock=ManualClock(fresh)) as ledger:
        from quantdesk.identity import add_user

        add_user(ledger, "ops", "admin", actor="ops")
        _running_deployment(ledger)
        ok = run_monitor(ledger, now=fresh)
        assert ok.ok and ok.audit_ok and ok.checked_series == 1
        later = fresh + timedelta(minutes=30)
        stale = run_monitor(ledger, now=later)
        [breach] = stale.breaches
        assert (breach.code, breach.deployment, breach.symbol) == ("DATA_STALE", "btc", "BTC/USDT")
        assert [e.code for e in ledger.risk_events()] == ["DATA_STALE"]
        messages = [m for m in LedgerOutbox(ledger).history() if m.event_type == "monitor_breach"]
        assert len(messages) == 1 and messages[0].status == "skipped", "stored, and skipped only for want of a channel"
        assert stale.delivery["skipped"] >= 1


@pytest.mark.integration
@pytest.mark.slow
def test_the_monitor_flow_runs_under_prefect(quantdesk_home: Path, tmp_path: Path) -> None:
    from tests.prefect_servers import logged_test_harness

    path = Path(__file__).resolve().parents[2] / "flows" / "monitor.py"
    spec = importlib.util.spec_from_file_location("flows_monitor", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with logged_test_harness(tmp_path / "server.log"):
        result = module.monitor_flow()
    assert result["audit_ok"] is True and result["breaches"] == []


def test_a_gap_in_a_running_deployments_recent_candles_is_a_breach(quantdesk_home: Path) -> None:
    bars = [i for i in range(120) if not 100 <= i < 104]  # four minutes missing, recently
    Lake().write(candles(bars, t0_ms=T0_MS), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    now = datetime.fromtimestamp((T0_MS + 121 * 60_000) / 1000, UTC)
    with Ledger(clock=ManualClock(now)) as ledger:
        _running_deployment(ledger)
        report = run_monitor(ledger, now=now, deliver=False)
    [gap] = [b for b in report.breaches if b.code == "DATA_GAP"]
    assert gap.symbol == "BTC/USDT" and gap.detail.startswith("4 1m bars missing") and "01:40" in gap.detail
    assert not [b for b in report.breaches if b.code == "DATA_STALE"]
    drift = quantdesk_home / "reports" / "drift" / "btc" / f"{now:%Y-%m-%d}.json"
    assert drift.exists() and "nothing to compare" in drift.read_text(), "the daily drift report is written once"


def test_rows_quarantined_by_an_ingestion_are_audited_and_notified(quantdesk_home: Path) -> None:
    from quantdesk.notify.templates import render
    from quantdesk.ops.data_events import record_quarantined

    reports = [{"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "quarantined": 3},
               {"exchange": "binance", "symbol": "ETH/USDT", "timeframe": "1m", "quarantined": 0}]
    with Ledger() as ledger:
        assert record_quarantined(reports, actor="flow:ingest", ledger=ledger) == 1
        [message] = LedgerOutbox(ledger).history()
        [entry] = ledger.audit_log(action="data.quarantined")
    assert message.event_type == "data_quarantined" and message.level == "warning" and entry.actor == "flow:ingest"
    title, body = render(message.event_type, message.payload)
    assert title == "3 rows quarantined: binance BTC/USDT 1m" and "quantdesk lake quarantine" in body
