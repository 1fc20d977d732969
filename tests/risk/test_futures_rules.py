"""Futures pre-trade rules: maximum leverage (ours and the exchange tier's) and distance to liquidation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core import ManualClock, OrderIntent, OrderType, Side
from quantdesk.core.margin import liquidation_price, tiers_for
from quantdesk.risk import DenialCode, RiskConfig, RiskContext, RiskGate

SYMBOL = "XRP/USDT:USDT"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _check(limits: dict, *, leverage: str | None, qty: str, side: Side = Side.BUY, position: str = "0",
           entry: str | None = None, price: str = "1.0") -> object:
    clock = ManualClock(START)
    gate = RiskGate(RiskConfig.from_dict({"default": limits}), clock)
    context = RiskContext(
        positions={SYMBOL: Decimal(position)}, last_prices={SYMBOL: Decimal(price)}, mark_prices={SYMBOL: Decimal(price)},
        leverage={SYMBOL: Decimal(leverage)} if leverage else {},
        entry_prices={SYMBOL: Decimal(entry)} if entry else {},
    )
    intent = OrderIntent(client_order_id="c-1", deployment="alpha", venue="sim", symbol=SYMBOL, side=side,
                         type=OrderType.MARKET, qty=Decimal(qty), ts=clock.now())
    return gate.check(intent, context)


def test_leverage_above_our_limit_is_refused_with_the_fix() -> None:
    denied = _check({"max_leverage": 10}, leverage="20", qty="100")
    assert denied.code is DenialCode.LEVERAGE_EXCEEDS_MAX and "lower the account's leverage" in denied.detail
    assert _check({"max_leverage": 10}, leverage="10", qty="100").approved  # limits are inclusive
    assert _check({"max_leverage": 10}, leverage=None, qty="100").approved  # spot: no leverage, no rule


def test_the_exchange_tier_caps_leverage_by_notional() -> None:
    # XRP's first tier (MMR 0.65 %) allows 76.9x; 60,000 USDT sits in the 2 % tier: 25x at most
    # (our own max_leverage, 10x unless written otherwise, is lifted to see the exchange's cap)
    ours = {"max_leverage": 125, "max_notional_per_order": "none"}
    assert _check(ours, leverage="50", qty="5000").approved
    denied = _check(ours, leverage="50", qty="60000")
    assert denied.code is DenialCode.LEVERAGE_EXCEEDS_MAX and "25x cap" in denied.detail


def test_a_fresh_install_caps_leverage_at_10x() -> None:
    denied = _check({}, leverage="11", qty="100")
    assert denied.code is DenialCode.LEVERAGE_EXCEEDS_MAX and "max_leverage 10x" in denied.detail
    assert _check({}, leverage="10", qty="100").approved
    assert _check({"max_leverage": "none"}, leverage="50", qty="100").approved  # removed, in writing


def test_liquidation_distance_is_measured_after_the_trade() -> None:
    # 20x long at 1.0: liquidated about 4.4 % below; 10x: about 9.4 % below
    denied = _check({"min_liquidation_distance_pct": 5, "max_leverage": 20}, leverage="20", qty="1000")
    assert denied.code is DenialCode.LIQUIDATION_TOO_CLOSE and "4.3" in denied.detail
    assert _check({"min_liquidation_distance_pct": 5}, leverage="10", qty="1000").approved
    # adding to a long bought at 1.05 while the mark is 1.0: the averaged entry pulls the liquidation up
    assert _check({"min_liquidation_distance_pct": 5}, leverage="10", qty="1", position="1000", entry="1.05").code \
        is DenialCode.LIQUIDATION_TOO_CLOSE
    # bought at 1.2, the 10x long would already be past its liquidation price at 1.0: a negative distance
    beyond = _check({"min_liquidation_distance_pct": 5}, leverage="10", qty="1", position="1000", entry="1.2")
    assert beyond.code is DenialCode.LIQUIDATION_TOO_CLOSE and "% from the mark" in beyond.detail
    # closing risk always passes, however close the liquidation
    assert _check({"min_liquidation_distance_pct": 50, "max_leverage": 2}, leverage="20", qty="500", side=Side.SELL,
                  position="1000", entry="1.0").approved


@settings(max_examples=100, deadline=None)
@given(leverage=st.integers(1, 75), qty=st.integers(1, 20_000), short=st.booleans(),
       min_pct=st.decimals(min_value=Decimal("0.5"), max_value=Decimal(60), places=1))
def test_an_approved_order_is_never_closer_to_liquidation_than_the_limit(leverage: int, qty: int, short: bool,
                                                                          min_pct: Decimal) -> None:
    decision = _check({"min_liquidation_distance_pct": str(min_pct), "max_leverage": 50}, leverage=str(leverage),
                      qty=str(qty), side=Side.SELL if short else Side.BUY)
    signed = -qty if short else qty
    liq = liquidation_price(signed, 1.0, qty / leverage, tiers_for(SYMBOL))
    distance = (1.0 - liq if not short else liq - 1.0) * 100
    # inside every limit (ours, the tier's, the distance, by a margin against rounding): it must pass;
    # a gate that refused everything would satisfy the checks below on its own
    inside = leverage <= 50 and leverage <= tiers_for(SYMBOL).max_leverage(qty) and distance >= float(min_pct) + 1e-6
    if inside:
        assert decision.approved, decision
    if decision.approved:
        assert distance >= float(min_pct) - 1e-9
    else:
        assert decision.code in (DenialCode.LIQUIDATION_TOO_CLOSE, DenialCode.LEVERAGE_EXCEEDS_MAX)
        if decision.code is DenialCode.LIQUIDATION_TOO_CLOSE:
            assert distance < float(min_pct) + 1e-9


def test_futures_limits_are_validated_in_the_config() -> None:
    with pytest.raises(Exception, match="max_leverage"):
        RiskConfig.from_dict({"default": {"max_leverage": 0.5}})
