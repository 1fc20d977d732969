"""The monitor stores the desk's daily VaR/ES in the ledger (revision 0014), backtests the closed days and
raises a notified `var_breach` when a day's loss exceeds the VaR or the traffic-light zone changes (issue 25)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.ledger.var_series import var_rows
from quantdesk.ops import run_monitor

START = datetime(2024, 1, 1, tzinfo=UTC)
DAY1 = datetime(2024, 5, 20, tzinfo=UTC)  # the first day the monitor stores


def _hours(symbol_seed: int, start: datetime, end: datetime, crash_on: datetime | None = None) -> pl.DataFrame:
    """1h bars from `start` to `end` whose closes walk randomly (a 30 % fall through `crash_on`'s day)."""
    n = int((end - start).total_seconds() // 3600)
    ts = [start + timedelta(hours=i) for i in range(n)]
    steps = np.random.default_rng(symbol_seed).normal(0, 0.006, size=int((end - START).total_seconds() // 3600))
    steps = steps[-n:]
    if crash_on is not None:
        steps = np.where([crash_on <= t < crash_on + timedelta(days=1) for t in ts], -0.015, steps)
    close = 100 * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pl.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": np.ones(n)}
                        ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def _write(lake: Lake, until: datetime) -> None:
    full = _hours(1, START, until, crash_on=DAY1)
    lake.write(full, exchange="binance", symbol="BTC/USDT", timeframe="1h")


def test_the_monitor_stores_evaluates_and_raises_var_breaches(quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text("[risk.var]\nwindow_days = 120\n")
    clock = ManualClock(DAY1 + timedelta(hours=6))
    lake = Lake(clock=clock)
    _write(lake, DAY1 + timedelta(hours=6))
    with Ledger(clock=clock) as ledger:
        ledger.record_intent(client_order_id="b1", venue="binance", symbol="BTC/USDT", side="buy",
                             order_type="market", qty="10", deployment="manual")
        ledger.record_fill(venue="binance", trade_id="b1", symbol="BTC/USDT", side="buy", qty="10", price="100",
                           ts=START + timedelta(days=2), client_order_id="b1")
        first = run_monitor(ledger, lake=lake, now=clock.now(), deliver=False)
        assert first.var_series["stored"] == "2024-05-20" and first.var_series["events"] == []
        [row] = var_rows(ledger)
        assert (row.scope, row.day, row.as_of, row.method, row.window_days) == ("desk", "2024-05-20", "2024-05-19",
                                                                               "historical", 120)
        assert row.observations == 120 and row.var_quote > 0 and row.es_quote >= row.var_quote
        assert row.positions[0]["symbol"] == "BTC/USDT" and row.positions[0]["qty"] == "10"
        again = run_monitor(ledger, lake=lake, now=clock.now() + timedelta(minutes=5), deliver=False)
        assert again.var_series["stored"] is None and len(var_rows(ledger)) == 1, "once a day"

        # the 20th closes 30 % down: an exception, evaluated the next day
        clock.set(DAY1 + timedelta(days=1, hours=6))
        _write(lake, clock.now())
        second = run_monitor(ledger, lake=lake, now=clock.now(), deliver=True)
        assert second.var_series["evaluated"] == ["2024-05-20"] and second.var_series["stored"] == "2024-05-21"
        [event] = second.var_series["events"]
        closes = lake.candles("BTC/USDT", "1d", exchange="binance")
        day = closes.filter(pl.col("ts").dt.date().is_in([DAY1.date() - timedelta(days=1), DAY1.date()]))["close"]
        assert event["kind"] == "exception" and event["pnl_quote"] == pytest.approx(10 * (day[1] - day[0]), rel=1e-9)
        assert event["pnl_quote"] < -float(row.var_quote)
        evaluated = var_rows(ledger)[0]
        assert evaluated.exception is True and evaluated.zone == "red" and float(evaluated.pnl_quote) == pytest.approx(
            event["pnl_quote"], abs=1e-8)
        assert [e.code for e in ledger.risk_events()] == ["VAR_BREACH"]
        assert [e.action for e in ledger.audit_log(action="risk.var_breach")] == ["risk.var_breach"]
        [message] = [m for m in LedgerOutbox(ledger).history() if m.event_type == "var_breach"]
        assert message.level == "error" and message.status == "skipped", "stored and notified (no channel here)"

        # an ordinary 21st: no exception; one in two days is another zone, but two days are no verdict yet
        clock.set(DAY1 + timedelta(days=2, hours=6))
        _write(lake, clock.now())
        third = run_monitor(ledger, lake=lake, now=clock.now(), deliver=False)
        assert third.var_series["evaluated"] == ["2024-05-21"] and third.var_series["events"] == []
        assert var_rows(ledger)[1].zone == "yellow"

    result = CliRunner().invoke(app, ["risk", "var-backtest", "--desk", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["source"], report["observations"], report["exceptions"], report["zone"]) == ("ledger", 2, 1,
                                                                                                "yellow")
    assert report["days"][0]["exception"] is True and report["pof"]["p_value"] < 0.05


def test_a_new_zone_is_a_var_breach_once_the_series_is_long_enough(quantdesk_home: Path) -> None:
    from quantdesk.ledger.var_series import record_var, record_var_outcome

    (quantdesk_home / "quantdesk.toml").write_text("[risk.var]\nwindow_days = 120\n")
    clock = ManualClock(DAY1 + timedelta(hours=6))
    lake = Lake(clock=clock)
    _write(lake, DAY1 + timedelta(hours=6))
    with Ledger(clock=clock) as ledger:
        # 119 closed days, two of them exceptions: green (P(X <= 2) = 0.88 for 119 days at 1 %)
        for i in range(119):
            day = (DAY1 - timedelta(days=119 - i)).date().isoformat()
            row, _ = record_var(ledger, scope="desk", day=day, as_of=day, method="historical", confidence=0.99,
                                window_days=120, observations=120, var_quote=100.0, es_quote=120.0, gross_quote=1000.0,
                                positions=[])
            record_var_outcome(ledger, row.id, pnl_quote=-150.0 if i in (10, 60) else 5.0, exception=i in (10, 60),
                               zone="green")
        ledger.record_intent(client_order_id="b1", venue="binance", symbol="BTC/USDT", side="buy",
                             order_type="market", qty="10", deployment="manual")
        ledger.record_fill(venue="binance", trade_id="b1", symbol="BTC/USDT", side="buy", qty="10", price="100",
                           ts=START + timedelta(days=2), client_order_id="b1")
        run_monitor(ledger, lake=lake, now=clock.now(), deliver=False)  # stores the 20th, which crashes
        clock.set(DAY1 + timedelta(days=1, hours=6))
        _write(lake, clock.now())
        report = run_monitor(ledger, lake=lake, now=clock.now(), deliver=False)
    assert [e["kind"] for e in report.var_series["events"]] == ["exception", "zone"]
    zone = report.var_series["events"][1]
    assert "moved from green to yellow (3 exceptions in 120 days)" in zone["detail"] and zone["zone"] == "yellow"
