"""Batch intent writes, active-order counts, deployment fills and the positions carried forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from quantdesk.core.errors import LedgerError
from quantdesk.core.types import OrderStatus
from quantdesk.ledger import Ledger
from quantdesk.ledger.schema import fills

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _intent(cid: str, symbol: str = "BTC/USDT", deployment: str = "dep", **kw: object) -> dict[str, object]:
    return dict(client_order_id=cid, venue="sim", symbol=symbol, side="buy", order_type="market", qty="1",
                deployment=deployment, **kw)


def test_record_intents_writes_all_in_one_transaction_and_marks_them_sent(ledger: Ledger) -> None:
    rows = ledger.record_intents([_intent("a"), _intent("b", "ETH/USDT")], sent_source="gated-broker")
    assert [r.client_order_id for r in rows] == ["a", "b"]
    assert all(r.status is OrderStatus.SENT for r in rows)
    history = ledger.order_history("a")
    assert [(e.from_status, e.to_status, e.source) for e in history] == [
        (None, OrderStatus.PENDING, "gate"), (OrderStatus.PENDING, OrderStatus.SENT, "gated-broker")]
    assert {o.client_order_id for o in ledger.in_flight_orders(venue="sim")} == {"a", "b"}
    # idempotent: known ids come back unchanged, never a second row
    assert ledger.record_intents([_intent("a")], sent_source="gated-broker")[0] == rows[0]
    assert len(ledger.orders()) == 2


def test_record_intents_stores_none_when_one_is_invalid(ledger: Ledger) -> None:
    ledger.record_intent(**_intent("a"))
    with pytest.raises(LedgerError, match="already recorded with symbol"):
        ledger.record_intents([_intent("c"), _intent("a", "ETH/USDT")])
    assert ledger.order("c") is None


def test_active_order_counts_cover_open_and_in_flight(ledger: Ledger) -> None:
    ledger.record_intents([_intent("a"), _intent("b"), _intent("c", "ETH/USDT")])
    ledger.update_order("b", OrderStatus.OPEN, venue_order_id="v-b")
    ledger.update_order("c", OrderStatus.REJECTED)
    assert ledger.active_order_counts(venue="sim") == {"BTC/USDT": 2}
    assert ledger.active_order_counts(venue="other") == {}


def _fill(ledger: Ledger, trade_id: str, cid: str | None, ts: datetime, side: str = "buy", qty: str = "1") -> None:
    ledger.record_fill(venue="sim", trade_id=trade_id, symbol="BTC/USDT", side=side, qty=qty, price="100",
                       ts=ts, fee="0.1", client_order_id=cid)


def test_fills_of_one_deployment_and_after_an_id(ledger: Ledger) -> None:
    ledger.record_intents([_intent("mine"), _intent("theirs", deployment="other")])
    _fill(ledger, "t1", "mine", T0)
    _fill(ledger, "t2", "theirs", T0)
    _fill(ledger, "t3", "mine", T0 + timedelta(minutes=1))
    mine = ledger.fills(venue="sim", deployment="dep")
    assert [f.trade_id for f in mine] == ["t1", "t3"]
    assert [f.trade_id for f in ledger.fills(deployment="dep", after_id=mine[0].id)] == ["t3"]


def test_positions_stay_the_sum_of_fills_as_fills_arrive(ledger: Ledger) -> None:
    def full() -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for f in ledger.fills():
            out[f.symbol] = out.get(f.symbol, Decimal(0)) + f.signed_qty
        return out

    assert ledger.positions() == []
    _fill(ledger, "t1", None, T0, qty="2")
    assert {p.symbol: p.qty for p in ledger.positions()} == full() == {"BTC/USDT": Decimal(2)}
    _fill(ledger, "t2", None, T0 - timedelta(minutes=5), side="sell", qty="0.5")  # late, older trade
    _fill(ledger, "t1", None, T0, qty="2")  # a repeat changes nothing
    [p] = ledger.positions(venue="sim")
    assert (p.qty, p.fill_count, p.fees, p.cost) == (Decimal("1.5"), 2, Decimal("0.2"), Decimal("150"))
    # fills are append-only in the database itself, which is what lets positions carry forward
    for statement in (delete(fills).where(fills.c.trade_id == "t2"),
                      update(fills).where(fills.c.trade_id == "t2").values(qty=Decimal(5))):
        with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as c:
            c.execute(statement)
    assert {p.symbol: p.qty for p in ledger.positions()} == full() == {"BTC/USDT": Decimal("1.5")}


def test_a_unit_of_work_commits_all_of_its_calls_or_none(ledger: Ledger) -> None:
    """`Ledger.unit()`: an answer, its fill and the audit entry land together, or not at all (both backends)."""
    ledger.record_intents([_intent("u1"), _intent("u2")], sent_source="gated-broker")
    with ledger.unit():
        row, applied = ledger.record_answer("u1", OrderStatus.FILLED, venue_order_id="v1", filled_qty="1",
                                            avg_price="100")
        _fill(ledger, "tu1", "u1", T0)
        assert ledger.order("u1").status is OrderStatus.FILLED  # reads inside see the unit's writes
        ledger.audit("test", "order.submitted", {"client_order_id": "u1"})
    assert applied and row.status is OrderStatus.FILLED and row == ledger.order("u1")  # returned as stored
    assert [f.trade_id for f in ledger.fills(client_order_id="u1")] == ["tu1"]
    entries = len(ledger.audit_log())

    with pytest.raises(LedgerError, match="cannot move"), ledger.unit():
        ledger.record_answer("u2", OrderStatus.OPEN, venue_order_id="v2")
        _fill(ledger, "tu2", "u2", T0)
        with ledger.unit():  # a nested unit joins the outer one
            ledger.audit("test", "order.submitted", {"client_order_id": "u2"})
        ledger.update_order("u1", OrderStatus.OPEN)  # out of a final state: refused, the unit rolls back
    assert ledger.order("u2").status is OrderStatus.SENT and ledger.fills(client_order_id="u2") == []
    assert len(ledger.audit_log()) == entries and ledger.verify_audit().ok  # the chain is whole


def test_a_late_or_repeated_answer_leaves_a_final_order_alone(ledger: Ledger) -> None:
    ledger.record_intents([_intent("r")], sent_source="gated-broker")
    first, applied = ledger.record_answer("r", OrderStatus.FILLED, venue_order_id="vr", filled_qty="1", avg_price="5")
    again, reapplied = ledger.record_answer("r", OrderStatus.OPEN, venue_order_id="vr", filled_qty="0")
    assert (applied, reapplied) == (True, False) and again == first and again.filled_qty == Decimal(1)
    with pytest.raises(LedgerError, match="no order with client order id 'nope'"):
        ledger.record_answer("nope", OrderStatus.FILLED)
