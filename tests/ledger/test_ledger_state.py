"""Risk events and position/balance snapshots."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import LedgerError
from quantdesk.ledger import Ledger


def test_risk_events_keep_code_detail_and_intent(ledger: Ledger, clock: ManualClock) -> None:
    intent = {"client_order_id": "c1", "qty": Decimal("0.5"), "side": "buy"}
    denial = ledger.record_risk_event(
        code="NOTIONAL_EXCEEDS_MAX_PER_ORDER",
        detail="notional 60000 > max 50000",
        intent=intent,
        deployment="d1",
        venue="sim",
        symbol="BTC/USDT",
    )
    clock.advance(timedelta(seconds=5))
    ledger.record_risk_event(code="TRADING_HALTED", detail="halted", approved=False, deployment="d2")
    ledger.record_risk_event(code="STATE_CHANGE", detail="ACTIVE -> REDUCING", approved=True)
    assert denial.intent == {"client_order_id": "c1", "qty": "0.5", "side": "buy"}
    assert not denial.approved and denial.ts == clock.now() - timedelta(seconds=5)
    assert [e.code for e in ledger.risk_events(deployment="d1")] == ["NOTIONAL_EXCEEDS_MAX_PER_ORDER"]
    assert [e.code for e in ledger.risk_events(code="TRADING_HALTED")] == ["TRADING_HALTED"]
    assert [e.code for e in ledger.risk_events(limit=1)] == ["STATE_CHANGE"]
    assert len(ledger.risk_events(since=clock.now())) == 2
    with pytest.raises(LedgerError, match="decision code"):
        ledger.record_risk_event(code="", detail="x")


def test_balance_snapshots_latest_per_asset(ledger: Ledger, clock: ManualClock) -> None:
    ledger.record_balances(venue="sim", totals={"USDT": "1000", "BTC": "0"}, free={"USDT": "900"}, used={"USDT": "100"})
    clock.advance(timedelta(minutes=1))
    stored = ledger.record_balances(venue="sim", totals={"BTC": "0.01"})
    assert [b.asset for b in stored] == ["BTC"]
    latest = ledger.latest_balances(venue="sim")
    assert latest["USDT"].total == Decimal("1000") and latest["USDT"].free == Decimal("900")
    assert latest["USDT"].used == Decimal("100")
    assert latest["BTC"].total == Decimal("0.01") and latest["BTC"].ts == clock.now()
    assert ledger.latest_balances(venue="sim", account="other") == {}


def test_position_snapshots_latest_per_symbol(ledger: Ledger, clock: ManualClock) -> None:
    ledger.record_position_snapshot(venue="sim", symbol="BTC/USDT", qty="1")
    clock.advance(timedelta(minutes=1))
    ledger.record_position_snapshot(venue="sim", symbol="BTC/USDT", qty="1.5", source="reconcile")
    ledger.record_position_snapshot(venue="sim", symbol="ETH/USDT", qty="-2")
    latest = ledger.latest_position_snapshots(venue="sim")
    assert [(s.symbol, s.qty, s.source) for s in latest] == [
        ("BTC/USDT", Decimal("1.5"), "reconcile"),
        ("ETH/USDT", Decimal("-2"), "venue"),
    ]
