"""Orders: idempotent intents, the state machine, history and the queries brokers rely on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import LedgerError
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus, OrderType, Side
from quantdesk.ledger import Ledger


def _intent(ledger: Ledger, cid: str = "c1", **overrides: object):
    values = dict(
        client_order_id=cid,
        venue="sim",
        symbol="BTC/USDT",
        side="buy",
        order_type="limit",
        qty="0.01",
        price="50000.10",
        deployment="dep1",
    )
    values.update(overrides)
    return ledger.record_intent(**values)


def test_record_intent_is_idempotent_by_client_order_id(ledger: Ledger) -> None:
    first = _intent(ledger)
    again = _intent(ledger, qty=0.01, price=Decimal("50000.1"))  # same values, other spellings
    assert again == first
    assert len(ledger.orders()) == 1
    assert len(ledger.order_history("c1")) == 1
    assert first.status is OrderStatus.PENDING
    assert first.qty == Decimal("0.01") and first.price == Decimal("50000.10")
    assert first.side is Side.BUY and first.order_type is OrderType.LIMIT


def test_same_client_order_id_with_other_contents_is_refused(ledger: Ledger) -> None:
    _intent(ledger)
    with pytest.raises(LedgerError, match="already recorded with qty"):
        _intent(ledger, qty="0.02")
    assert len(ledger.orders()) == 1


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("qty", "0", "positive"),
        ("qty", "-1", "positive"),
        ("price", None, "needs a price"),
        ("side", "hold", "invalid side"),
        ("client_order_id", "", "1-64 characters"),
    ],
)
def test_invalid_intents_are_refused(ledger: Ledger, field: str, value: object, match: str) -> None:
    with pytest.raises(LedgerError, match=match):
        _intent(ledger, **{field: value})
    assert ledger.orders() == []


def test_money_is_exact_decimal(ledger: Ledger) -> None:
    qty = Decimal("123456789.123456789012345678")
    row = _intent(ledger, qty=qty, price="0.000000000000000001", order_type="limit")
    stored = ledger.order(row.client_order_id)
    assert stored is not None and stored.qty == qty and str(stored.qty) == str(qty)
    assert stored.price == Decimal("1E-18")


def test_order_life_is_recorded_as_events(ledger: Ledger, clock: ManualClock) -> None:
    _intent(ledger)
    clock.advance(timedelta(seconds=1))
    ledger.update_order("c1", OrderStatus.SENT)
    clock.advance(timedelta(seconds=1))
    ledger.update_order("c1", "open", venue_order_id="v1", payload={"raw": {"status": "NEW"}})
    ledger.update_order("c1", "partially_filled", filled_qty="0.004", avg_price="50000")
    done = ledger.update_order("c1", "filled", avg_price="50000.05")
    assert done.status is OrderStatus.FILLED and done.filled_qty == Decimal("0.01")
    assert done.updated_at > done.created_at
    history = ledger.order_history("c1")
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, OrderStatus.PENDING),
        (OrderStatus.PENDING, OrderStatus.SENT),
        (OrderStatus.SENT, OrderStatus.OPEN),
        (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED),
    ]
    assert history[2].payload == {"raw": {"status": "NEW"}} and history[2].venue_order_id == "v1"
    assert history[1].ts - history[0].ts == timedelta(seconds=1)
    assert ledger.order_by_venue_id("sim", "v1") == done


@pytest.mark.parametrize("final", ["filled", "canceled", "rejected", "expired"])
def test_a_final_state_is_never_left(ledger: Ledger, final: str) -> None:
    _intent(ledger)
    ledger.update_order("c1", final)
    for other in ("pending", "sent", "open", "partially_filled", "filled", "canceled"):
        if other == final:
            continue
        with pytest.raises(LedgerError, match=f"cannot move from {final}"):
            ledger.update_order("c1", other)
    order = ledger.order("c1")
    assert order is not None and order.status.value == final
    assert len(ledger.order_history("c1")) == 2


def test_backward_transitions_and_shrinking_fills_are_refused(ledger: Ledger) -> None:
    _intent(ledger)
    ledger.update_order("c1", "open", venue_order_id="v1")
    with pytest.raises(LedgerError, match="cannot move from open to sent"):
        ledger.update_order("c1", "sent")
    ledger.update_order("c1", "partially_filled", filled_qty="0.005")
    with pytest.raises(LedgerError, match="may only grow"):
        ledger.update_order("c1", "partially_filled", filled_qty="0.004")
    with pytest.raises(LedgerError, match="may only grow"):
        ledger.update_order("c1", "partially_filled", filled_qty="0.02")
    with pytest.raises(LedgerError, match="already has venue order id"):
        ledger.update_order("c1", "partially_filled", venue_order_id="other")
    with pytest.raises(LedgerError, match="no order with client order id"):
        ledger.update_order("missing", "open")


def test_repeating_a_status_with_nothing_new_adds_no_event(ledger: Ledger) -> None:
    _intent(ledger)
    ledger.update_order("c1", "open", venue_order_id="v1")
    ledger.update_order("c1", "open", venue_order_id="v1")
    ledger.update_order("c1", "open")
    assert len(ledger.order_history("c1")) == 2


def test_open_with_fills_is_stored_as_partially_filled(ledger: Ledger) -> None:
    _intent(ledger)
    row = ledger.update_order("c1", "open", filled_qty="0.003")
    assert row.status is OrderStatus.PARTIALLY_FILLED
    # a later "open" report from the venue does not move it backwards
    assert ledger.update_order("c1", "open", filled_qty="0.003").status is OrderStatus.PARTIALLY_FILLED


def test_open_and_in_flight_orders(ledger: Ledger) -> None:
    for cid in ("a", "b", "c", "d", "e"):
        _intent(ledger, cid)
    ledger.update_order("b", "sent")
    ledger.update_order("c", "open")
    ledger.update_order("d", "partially_filled", filled_qty="0.001")
    ledger.update_order("e", "canceled")
    assert {o.client_order_id for o in ledger.in_flight_orders()} == {"a", "b"}
    assert {o.client_order_id for o in ledger.open_orders()} == {"c", "d"}
    assert ledger.open_orders(venue="other") == []
    assert [o.client_order_id for o in ledger.orders(statuses=["canceled"])] == ["e"]
    assert [o.client_order_id for o in ledger.orders(limit=2)] == ["d", "e"]


def test_orders_filters(ledger: Ledger, clock: ManualClock) -> None:
    _intent(ledger, "x1", symbol="ETH/USDT", deployment="d1")
    clock.advance(timedelta(minutes=1))
    cutoff = clock.now()
    _intent(ledger, "x2", symbol="BTC/USDT", deployment="d2", account="sub", venue="okx")
    assert [o.client_order_id for o in ledger.orders(symbol="ETH/USDT")] == ["x1"]
    assert [o.client_order_id for o in ledger.orders(deployment="d2")] == ["x2"]
    assert [o.client_order_id for o in ledger.orders(venue="okx", account="sub")] == ["x2"]
    assert [o.client_order_id for o in ledger.orders(since=cutoff)] == ["x2"]


def test_external_orders_are_adopted_with_their_venue_state(ledger: Ledger) -> None:
    row = ledger.record_intent(
        client_order_id="ext-1",
        venue="sim",
        symbol="BTC/USDT",
        side="sell",
        order_type="market",
        qty="1",
        external=True,
        status="open",
        venue_order_id="v9",
        source="reconcile",
    )
    assert row.external and row.status is OrderStatus.OPEN and row.price is None
    assert ledger.order_history("ext-1")[0].source == "reconcile"


def test_record_order_intent_takes_the_core_intent(ledger: Ledger, clock: ManualClock) -> None:
    intent = OrderIntent(
        client_order_id="oi-1",
        deployment="dep",
        venue="sim",
        symbol="BTC/USDT",
        side=Side.SELL,
        type=OrderType.MARKET,
        qty=Decimal("0.5"),
        reduce_only=True,
        ts=clock.now(),
    )
    row = ledger.record_order_intent(intent, account="acc")
    assert row.side is Side.SELL and row.account == "acc" and row.deployment == "dep"
    assert ledger.record_order_intent(intent, account="acc") == row
    assert ledger.order_history("oi-1")[0].payload["reduce_only"] is True
