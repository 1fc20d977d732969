"""Sizing invariants, and agreement with vectorbt's `from_orders` (the backtest engine) order by order."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.live.sizing import Account, size_order, to_intent_qty

targets = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
prices = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)
steps = st.sampled_from([0.0, 0.001, 0.01, 1.0])


@given(target=targets, price=prices, cash=st.floats(min_value=0.0, max_value=1e6), position=st.floats(0, 100),
       step=steps, fee_bps=st.floats(0, 50), short=st.booleans())
def test_an_order_is_affordable_on_the_lot_grid_and_never_oversells(
    target: float, price: float, cash: float, position: float, step: float, fee_bps: float, short: bool
) -> None:
    cost = CostModel(fee_bps=fee_bps, slippage_bps=5)
    rules = MarketRules(lot_step=step)
    account = Account(cash=cash, positions={"X/USDT": position})
    value = account.value({"X/USDT": price})
    order = size_order(symbol="X/USDT", target=target, position=position, cash=cash, value=value, price=price,
                       cost=cost, rules=rules, allow_short=short)
    # the other half: when the target asks for at least two lots that the cash (or the position)
    # covers, an order is placed; a sizer that never ordered would pass the checks below alone
    desired = target * value / price - position
    if desired > 0:
        doable = min(desired, cash / (1 + cost.fee_rate) / (price * (1 + cost.slippage_rate)))
    else:
        doable = -desired if short else min(position, -desired)
    if doable >= max(2 * step, 1e-6) * (1 + 1e-9):
        assert order.is_order, (order, doable)
    if not order.is_order:
        return
    if order.qty > 0:
        spend = order.qty * cost.fill_price(price, 1) * (1 + cost.fee_rate)
        assert spend <= cash * (1 + 1e-9) + 1e-9
    elif not short:
        assert -order.qty <= position * (1 + 1e-12)
    if step:
        lots = abs(order.qty) / step
        assert math.isclose(lots, round(lots), rel_tol=1e-9, abs_tol=1e-6)
        assert to_intent_qty(order.qty, rules) % __import__("decimal").Decimal(str(step)) == 0


@settings(max_examples=25, deadline=None)
@given(first=st.floats(0.0, 1.0), second=st.floats(0.0, 1.0), step=steps, fee_bps=st.floats(0, 30),
       slip_bps=st.floats(0, 20), move=st.floats(-0.2, 0.2))
# found by hypothesis: a dust target (1e-11 units) is no order for vectorbt (min_size 1e-8)
@example(first=0.0, second=1e-12, step=0.0, fee_bps=0.0, slip_bps=0.0, move=0.0)
def test_two_orders_match_vectorbt(first: float, second: float, step: float, fee_bps: float, slip_bps: float,
                                   move: float) -> None:
    """Our orders equal vectorbt's, order by order (and at least one is placed when the first target asks)."""
    import pandas as pd
    import vectorbt as vbt

    open_ = np.array([100.0, 100.0, 100.0 * (1 + move)])
    close = open_ * 1.001
    sizes = np.array([np.nan, first, second])
    cost = CostModel(fee_bps=fee_bps, slippage_bps=slip_bps)
    rules = MarketRules(lot_step=step)
    kwargs = {"size_granularity": step} if step else {}
    pf = vbt.Portfolio.from_orders(close=pd.Series(close), size=pd.Series(sizes), size_type="targetpercent",
                                   price=pd.Series(open_), fees=cost.fee_rate, slippage=cost.slippage_rate,
                                   init_cash=1000.0, direction="longonly", **kwargs)
    records = pf.orders.values
    account = Account(cash=1000.0)
    mine = []
    for i in (1, 2):
        order = size_order(symbol="X", target=sizes[i], position=account.position("X"), cash=account.cash,
                           value=account.value({"X": open_[i]}), price=open_[i], cost=cost, rules=rules,
                           allow_short=False)
        if order.is_order:
            fill = cost.fill_price(open_[i], 1 if order.qty > 0 else -1)
            fee = abs(order.qty) * fill * cost.fee_rate
            account.apply_fill("X", order.qty, fill, fee)
            mine.append((i, abs(order.qty), fill, fee))
    assert [r["idx"] for r in records] == [m[0] for m in mine]
    if min(first * 10, 9.0) >= 2 * max(step, 1e-6):  # the first target is two lots or more of 1000 cash at 100
        assert mine and mine[0][0] == 1, "the first target asks for an order: one must be placed"
    for r, (_, qty, price, fee) in zip(records, mine, strict=True):
        assert math.isclose(r["size"], qty, rel_tol=1e-9)
        assert math.isclose(r["price"], price, rel_tol=1e-12)
        assert math.isclose(r["fees"], fee, rel_tol=1e-9, abs_tol=1e-12)
