"""Fills: unique per (venue, trade id), linked to orders; positions are the sum of unique fills."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import LedgerError
from quantdesk.core.types import Side
from quantdesk.ledger import Ledger

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _fill(ledger: Ledger, trade_id: str, side: str = "buy", qty: str = "0.5", **kw: object):
    values = dict(venue="sim", trade_id=trade_id, symbol="BTC/USDT", side=side, qty=qty, price="100", ts=T0)
    values.update(kw)
    return ledger.record_fill(**values)


def test_record_fill_is_idempotent_by_venue_and_trade_id(ledger: Ledger) -> None:
    first = _fill(ledger, "t1", fee="0.01", fee_currency="USDT")
    assert _fill(ledger, "t1", fee="0.01", fee_currency="USDT") == first
    assert len(ledger.fills()) == 1
    assert first.fee == Decimal("0.01") and first.fee_currency == "USDT" and first.ts == T0
    other_venue = _fill(ledger, "t1", venue="okx")  # trade ids are unique per venue only
    assert other_venue.id != first.id
    assert ledger.position("BTC/USDT") == Decimal("1.0")
    assert ledger.position("BTC/USDT", venue="sim") == Decimal("0.5")


def test_same_trade_id_with_other_contents_is_refused(ledger: Ledger) -> None:
    _fill(ledger, "t1")
    with pytest.raises(LedgerError, match="already recorded with qty"):
        _fill(ledger, "t1", qty="0.6")
    with pytest.raises(LedgerError, match="positive"):
        _fill(ledger, "t2", qty="0")
    assert len(ledger.fills()) == 1


def test_fills_link_to_orders_by_client_or_venue_order_id(ledger: Ledger) -> None:
    order = ledger.record_intent(
        client_order_id="c1", venue="sim", symbol="BTC/USDT", side="buy", order_type="market", qty="1", account="acc"
    )
    ledger.update_order("c1", "open", venue_order_id="v1")
    by_cid = _fill(ledger, "t1", client_order_id="c1")
    by_vid = _fill(ledger, "t2", venue_order_id="v1")
    orphan = _fill(ledger, "t3", venue_order_id="unknown")
    assert by_cid.order_id == order.id and by_cid.venue_order_id == "v1" and by_cid.account == "acc"
    assert by_vid.order_id == order.id and by_vid.client_order_id == "c1"
    assert orphan.order_id is None and orphan.account == "default"
    assert [f.trade_id for f in ledger.fills(client_order_id="c1")] == ["t1", "t2"]


def test_fill_queries_and_positions(ledger: Ledger) -> None:
    _fill(ledger, "t1", qty="2", price="100", fee="0.2", ts=T0)
    _fill(ledger, "t2", side="sell", qty="0.5", price="110", ts=T0 + timedelta(minutes=1))
    _fill(ledger, "t3", symbol="ETH/USDT", qty="3", ts=T0 + timedelta(minutes=2))
    assert [f.trade_id for f in ledger.fills(since=T0 + timedelta(minutes=1))] == ["t2", "t3"]
    assert [f.trade_id for f in ledger.fills(limit=1)] == ["t3"]
    assert ledger.position("BTC/USDT") == Decimal("1.5")
    assert ledger.position("DOGE/USDT") == Decimal(0)
    btc, eth = ledger.positions()
    assert (btc.symbol, btc.qty, btc.cost, btc.fees, btc.fill_count) == (
        "BTC/USDT",
        Decimal("1.5"),
        Decimal("145.0"),
        Decimal("0.2"),
        2,
    )
    assert eth.qty == Decimal("3")


_fill_strategy = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000"), places=8),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2),
)
_counter = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fills=st.lists(_fill_strategy, min_size=1, max_size=12),
    data=st.data(),
)
def test_position_is_the_sum_of_unique_fills_whatever_the_order_and_repeats(
    ledger: Ledger, fills: list[tuple[Side, Decimal, Decimal]], data: st.DataObject
) -> None:
    # one symbol per example: the ledger fixture is shared by the examples of one test
    symbol = f"S{next(_counter)}/USDT"
    trades = [(f"t{i}", side, qty, price) for i, (side, qty, price) in enumerate(fills)]
    repeats = data.draw(st.lists(st.sampled_from(trades), max_size=len(trades)), label="repeats")
    stream = data.draw(st.permutations(trades + repeats), label="stream")
    for trade_id, side, qty, price in stream:
        ledger.record_fill(
            venue="sim", trade_id=f"{symbol}-{trade_id}", symbol=symbol, side=side, qty=qty, price=price, ts=T0
        )
    expected = sum((q if s is Side.BUY else -q for _, s, q, _ in trades), Decimal(0))
    assert ledger.position(symbol) == expected
    assert len(ledger.fills(symbol=symbol)) == len(trades)
    (computed,) = [p for p in ledger.positions() if p.symbol == symbol]
    assert computed.qty == expected and computed.fill_count == len(trades)
