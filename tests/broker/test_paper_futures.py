"""Perpetuals on the paper broker: isolated margin, shorts, funding, liquidation, and the gate.

The position arithmetic (`quantdesk.core.perpetual`) is checked by property: whatever the
fills, realised plus unrealised PnL equals the sum of each fill's PnL to the same mark.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.broker import GatedBroker, PaperBroker
from quantdesk.core.clock import ManualClock
from quantdesk.core.costs import CostModel
from quantdesk.core.errors import InsufficientFundsError
from quantdesk.core.margin import tiers_for
from quantdesk.core.orders import OrderIntent
from quantdesk.core.perpetual import IsolatedPosition
from quantdesk.core.types import OrderStatus, OrderType, Side
from quantdesk.ledger import Ledger
from quantdesk.risk import RiskConfig, RiskGate

PERP = "XRP/USDT:USDT"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def _intent(cid: str, side: Side, qty: str, symbol: str = PERP) -> OrderIntent:
    return OrderIntent(client_order_id=cid, deployment="perp", venue="paper", symbol=symbol, side=side,
                       type=OrderType.MARKET, qty=D(qty), ts=T0)


@pytest.fixture
def broker() -> PaperBroker:
    paper = PaperBroker(name="paper", clock=ManualClock(T0), cost_model=CostModel(fee_bps=10),
                        balances={"USDT": 1_000}, run_id="t")
    paper.update_price(PERP, 1)
    return paper


def test_a_perpetual_posts_margin_and_can_be_shorted_without_the_asset(broker: PaperBroker) -> None:
    broker.set_leverage(PERP, 10)
    long = broker.create_order(_intent("a", Side.BUY, "1000"))
    assert long.status is OrderStatus.FILLED
    usdt = broker.balances()["USDT"]
    assert usdt.used == D(100) and usdt.total == D(1000) - D(1)  # margin 1000 * 1 / 10 set aside; fee 1
    position = broker.futures_position(PERP)
    assert position is not None and (position.leverage, position.qty, position.entry_price) == (10, 1000, 1)
    broker.update_price(PERP, "1.1")
    broker.create_order(_intent("b", Side.SELL, "1500"))  # closes the long (+100) and opens a 500 short
    position = broker.futures_position(PERP)
    assert position is not None and (position.qty, position.entry_price) == (-500, D("1.1"))
    # fees come from the cost model's float arithmetic, as on spot (paper equals backtest)
    assert broker.balances()["USDT"].total == pytest.approx(D(1000) - D(1) + D(100) - D("1.65"), abs=D("1e-12"))
    assert broker.balances()["USDT"].used == D(55)  # 500 * 1.1 / 10
    with pytest.raises(InsufficientFundsError, match="free"):
        broker.create_order(_intent("c", Side.SELL, "100000"))  # 11,000 of margin on a ~1,000 wallet
    assert broker.futures_position("BTC/USDT") is None  # spot: no leverage to report


def test_funding_moves_margin_and_wallet_and_a_mark_through_the_price_liquidates(broker: PaperBroker) -> None:
    broker.set_leverage(PERP, 20)
    broker.create_order(_intent("a", Side.BUY, "1000"))  # margin 50, fee 1
    paid = broker.settle_funding(PERP, "0.0005", mark="1.02")
    assert paid == D("-0.51") and broker.balances()["USDT"].total == D(1000) - D(1) - D("0.51")
    position = IsolatedPosition(leverage=D(20), qty=D(1000), entry=D(1), margin=D(50) - D("0.51"))
    liq = position.liquidation_price(tiers_for(PERP))
    assert broker.update_mark(PERP, low=liq + 0.001, high=1.01, close=1.0) is None  # not reached
    event = broker.update_mark(PERP, low=liq - 0.001, high=1.0, close=0.95)
    assert event is not None and float(event.price) == pytest.approx(liq, abs=1e-12)
    assert event.realized + event.clearance == -(D(50) - D("0.51"))  # the margin is lost, no more
    assert broker.balances()["USDT"].total == D(1000) - D(1) - D(50)
    assert broker.futures_position(PERP).qty == 0  # type: ignore[union-attr]
    # booked as the venue books it: an autoclose market order and its fill
    fill = broker.fills_since(None, PERP)[-1]
    assert fill.client_order_id.startswith("autoclose-") and fill.side is Side.SELL and fill.qty == 1000


def test_the_gate_uses_the_paper_accounts_leverage_and_the_ledger_holds_the_signed_position(
    broker: PaperBroker, tmp_path: Path,
) -> None:
    clock = broker.clock
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock)
    gate = RiskGate(RiskConfig.from_dict({"default": {"max_leverage": 10}}), clock, ledger)
    gated = GatedBroker(broker, ledger, gate, venue="paper", clock=clock, actor="test")
    gated.start()
    assert gated.submit(_intent("x", Side.SELL, "100")).code == "LEVERAGE_EXCEEDS_MAX"  # the default 20x
    broker.set_leverage(PERP, 5)
    outcome = gated.submit(_intent("y", Side.SELL, "100"))
    assert outcome.approved and outcome.status is OrderStatus.FILLED
    assert [p.qty for p in ledger.positions(venue="paper")] == [D(-100)]
    # a liquidation's autoclose fill reaches the ledger at the next reconcile: positions agree again
    broker.update_mark(PERP, low=0.5, high=2.0, close=1.5)
    clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    gated.reconcile()
    assert [p.qty for p in ledger.positions(venue="paper")] == [D(0)]
    ledger.close()


prices = st.decimals(min_value=D("0.5"), max_value=D("2"), places=4)
fills = st.lists(st.tuples(st.decimals(min_value=D(-50), max_value=D(50), places=2).filter(bool), prices),
                 min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(fills=fills, mark=prices, leverage=st.integers(min_value=1, max_value=50))
def test_realised_plus_unrealised_pnl_is_the_sum_of_each_fills_pnl(fills: list[tuple[D, D]], mark: D,
                                                                   leverage: int) -> None:
    position, realized = IsolatedPosition(leverage=D(leverage)), D(0)
    for signed, price in fills:
        position, pnl = position.fill(signed, price)
        realized += pnl
        assert position.margin >= 0 and (position.margin == 0) == (position.qty == 0)
        assert position.qty == 0 or position.margin <= abs(position.qty) * position.entry / D(leverage) + D("1e-6")
    expected = sum((signed * (mark - price) for signed, price in fills), D(0))
    assert position.qty == sum((s for s, _ in fills), D(0))
    # each realisation is kept to 8 decimals (rounded down): at most 1e-8 off per fill
    assert abs(realized + position.unrealized(mark) - expected) <= D("1e-8") * len(fills) + D("1e-12")


def test_a_mark_that_gaps_through_the_liquidation_price_closes_at_its_open() -> None:
    """As the futures backtest: the liquidation price, or the bar's open when the mark gapped past it."""
    tiers = tiers_for(PERP)
    long = IsolatedPosition(leverage=D(20), qty=D(1000), entry=D(1), margin=D(50))
    liq = long.liquidation_price(tiers)
    assert 0.9 < liq < 1
    assert long.liquidated_by(0.97, 1.02, tiers, open_=1.0) is None
    assert long.liquidated_by(liq - 0.01, 1.0, tiers, open_=1.0) == liq
    assert long.liquidated_by(0.85, 0.91, tiers, open_=0.9) == 0.9  # gapped: at the open
    short = IsolatedPosition(leverage=D(20), qty=D(-1000), entry=D(1), margin=D(50))
    up = short.liquidation_price(tiers)
    assert short.liquidated_by(0.99, up + 0.01, tiers, open_=1.0) == up
    assert short.liquidated_by(1.1, 1.2, tiers, open_=1.1) == 1.1
