"""Matching-engine invariants under random order flows (hypothesis, no HTTP)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.venue.engine import MatchingEngine
from quantdesk.venue.market import CandleBook, MarketSpec
from quantdesk.venue.orders import FillPolicy, RejectedRequest
from tests.venue.conftest import MINUTE_MS, START_MS, make_candles

FRAME = make_candles(400, price=2_000.0, seed=5)
SPEC = MarketSpec.for_price("ETH/USDT", 2_000.0)
INITIAL_QUOTE = Decimal(50_000)
INITIAL_BASE = Decimal(10)

step = st.one_of(
    st.tuples(
        st.just("order"),
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(["MARKET", "LIMIT"]),
        st.integers(min_value=1, max_value=40_000),  # quantity in lots of 0.0001
        st.floats(min_value=0.95, max_value=1.05),  # limit price relative to the current price
    ),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("cancel"), st.integers(min_value=1, max_value=30)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    fraction=st.sampled_from([1.0, 0.5, 0.3]),
    volume_cap=st.sampled_from([None, 0.05]),
)
def test_balances_conserve_and_fills_never_exceed_orders(
    steps, fraction: float, volume_cap
) -> None:
    policy = FillPolicy(fraction_per_bar=fraction, max_volume_fraction=volume_cap, fee_bps=7.5)
    engine = MatchingEngine(
        {"ETH/USDT": CandleBook(FRAME, MINUTE_MS)},
        {"ETH/USDT": SPEC},
        {"USDT": INITIAL_QUOTE, "ETH": INITIAL_BASE},
        policy,
    )
    now = START_MS + 10 * MINUTE_MS
    for i, action in enumerate(steps):
        try:
            if action[0] == "order":
                _, side, kind, lots, rel = action
                current = engine.current_price("ETH/USDT", now)
                price = (
                    (current * Decimal(repr(rel))).quantize(SPEC.tick_size)
                    if kind == "LIMIT"
                    else None
                )
                engine.place(
                    symbol="ETH/USDT",
                    side=side,
                    type=kind,
                    now_ms=now,
                    quantity=Decimal(lots) * SPEC.step_size,
                    price=price,
                    time_in_force="GTC" if kind == "LIMIT" else None,
                    client_order_id=f"c{i}",
                )
            elif action[0] == "advance":
                now += action[1] * MINUTE_MS + 17_000 * (action[1] % 2)  # also stop mid-bar
                engine.sync(now)
            else:
                engine.cancel("ETH/USDT", action[1], None, now)
        except RejectedRequest as rejected:
            assert rejected.code in (-2010, -2011, -1013)
    buys = [t for t in engine.trades if t.side == "BUY"]
    sells = [t for t in engine.trades if t.side == "SELL"]
    fees = sum((t.commission for t in engine.trades), Decimal(0))
    quote_total = engine.free["USDT"] + engine.locked["USDT"]
    base_total = engine.free["ETH"] + engine.locked["ETH"]
    assert (
        quote_total
        == INITIAL_QUOTE
        - sum(t.price * t.qty for t in buys)
        + sum(t.price * t.qty for t in sells)
        - fees
    )
    assert base_total == INITIAL_BASE + sum(t.qty for t in buys) - sum(t.qty for t in sells)
    for asset in ("USDT", "ETH"):
        assert engine.free[asset] >= 0 and engine.locked[asset] >= 0
    open_locks = sum(
        (o.locked for o in engine.orders.values() if o.status.is_open and o.side == "BUY"),
        Decimal(0),
    )
    assert engine.locked["USDT"] == open_locks
    for order in engine.orders.values():
        filled = sum((t.qty for t in engine.trades if t.order_id == order.order_id), Decimal(0))
        assert filled == order.executed_qty <= order.orig_qty
        assert order.status.value == ("FILLED" if filled == order.orig_qty else order.status.value)
        if order.type == "LIMIT":
            for t in engine.trades:
                if t.order_id == order.order_id:
                    assert (
                        (t.price <= order.price)
                        if order.side == "BUY"
                        else (t.price >= order.price)
                    )


def test_fill_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="fraction_per_bar"):
        FillPolicy(fraction_per_bar=0)
    with pytest.raises(ValueError, match="max_volume_fraction"):
        FillPolicy(max_volume_fraction=2)
