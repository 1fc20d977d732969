"""The paper broker: deterministic under a fixed clock, and the backtest's cost model to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.broker import (
    Broker,
    PaperBroker,
    client_order_id_for,
    derive_client_order_id,
    is_valid_client_order_id,
)
from quantdesk.core import (
    CostModel,
    InsufficientFundsError,
    ManualClock,
    MarketRules,
    OrderIntent,
    OrderNotFoundError,
    OrderStatus,
    OrderType,
    Side,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def make_intent(cid: str, side: Side, qty: str, price: str | None = None) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid, deployment="dep", venue="paper", symbol="BTC/USDT", side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET, qty=Decimal(qty),
        price=None if price is None else Decimal(price), ts=T0,
    )


def scenario(broker: PaperBroker, clock: ManualClock) -> list:
    """Feed bars and orders; return everything observable."""
    broker.update_bar("BTC/USDT", open=100, high=101, low=99, close=100.5)
    broker.create_order(make_intent("a", Side.BUY, "0.3"))
    broker.create_order(make_intent("b", Side.BUY, "0.4", "99.5"))
    clock.advance(timedelta(minutes=1))
    broker.update_bar("BTC/USDT", open=100, high=100.2, low=99.0, close=99.8)
    clock.advance(timedelta(minutes=1))
    broker.update_bar("BTC/USDT", open=99.8, high=100.0, low=99.2, close=99.6)
    broker.create_order(make_intent("c", Side.SELL, "0.1"))
    broker.cancel_order("b")
    return [broker.fills_since(None), [broker.fetch_order(c) for c in "abc"], broker.balances()]


def test_paper_broker_is_a_broker() -> None:
    assert isinstance(PaperBroker(clock=ManualClock(T0)), Broker)


def test_deterministic_under_a_fixed_clock() -> None:
    runs = []
    for _ in range(2):
        clock = ManualClock(T0)
        broker = PaperBroker(clock=clock, cost_model=CostModel(fee_bps=10, slippage_bps=5),
                             balances={"USDT": 1000}, max_fill_ratio=0.25, run_id="r1")
        runs.append(scenario(broker, clock))
    assert runs[0] == runs[1]
    # without a pinned run id, two brokers never hand out the same venue order or trade id
    a, b = ([scenario(PaperBroker(clock=c, balances={"USDT": 1000}, max_fill_ratio=0.25), c)
             for c in (ManualClock(T0),)][0] for _ in range(2))
    assert not {f.trade_id for f in a[0]} & {f.trade_id for f in b[0]}
    fills, orders, _ = runs[0]
    assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.FILLED]
    # the limit order filled a quarter per bar, twice, then was canceled
    assert orders[1].filled_qty == Decimal("0.2")
    assert [f.qty for f in fills if f.client_order_id == "b"] == [Decimal("0.1"), Decimal("0.1")]
    assert all(f.ts >= T0 for f in fills)


@settings(max_examples=60, deadline=None)
@given(
    price=st.floats(min_value=0.01, max_value=1e6, allow_nan=False),
    qty=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    fee_bps=st.floats(min_value=0, max_value=100),
    slippage_bps=st.floats(min_value=0, max_value=100),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_market_fill_matches_the_backtest_cost_model(price: float, qty: Decimal, fee_bps: float,
                                                     slippage_bps: float, side: Side) -> None:
    costs = CostModel(fee_bps=fee_bps, slippage_bps=slippage_bps)
    broker = PaperBroker(clock=ManualClock(T0), cost_model=costs)
    broker.update_price("BTC/USDT", price)
    order = broker.create_order(make_intent("p", side, str(qty)))
    (fill,) = broker.fills_since(None)
    expected_price = costs.fill_price(price, side.sign)
    assert order.status is OrderStatus.FILLED and fill.qty == qty
    assert float(fill.price) == pytest.approx(expected_price, rel=1e-12)
    assert float(fill.fee) == pytest.approx(costs.fee(float(qty) * expected_price), rel=1e-9, abs=1e-12)


def test_next_open_fills_like_the_backtest() -> None:
    costs = CostModel(fee_bps=10, slippage_bps=20)
    broker = PaperBroker(clock=ManualClock(T0), cost_model=costs, market_fill="next_open")
    broker.update_bar("BTC/USDT", open=100, high=101, low=99, close=100.5)
    assert broker.create_order(make_intent("n", Side.BUY, "1")).status is OrderStatus.OPEN
    (fill,) = broker.update_bar("BTC/USDT", open=102, high=103, low=101, close=102.5)
    assert float(fill.price) == pytest.approx(costs.fill_price(102.0, 1))


def test_funds_lot_step_and_idempotency() -> None:
    broker = PaperBroker(clock=ManualClock(T0), balances={"USDT": 100},
                         rules={"BTC/USDT": MarketRules(lot_step=0.01, tick_size=0.1)})
    broker.update_price("BTC/USDT", 100)
    with pytest.raises(InsufficientFundsError):
        broker.create_order(make_intent("big", Side.BUY, "2"))
    first = broker.create_order(make_intent("ok", Side.BUY, "0.509"))
    assert first.qty == Decimal("0.50")
    assert broker.create_order(make_intent("ok", Side.BUY, "0.509")) == first  # a retry, not a second order
    assert len(broker.fills_since(None)) == 1
    assert broker.balances()["BTC"].total == Decimal("0.50")
    with pytest.raises(OrderNotFoundError):
        broker.fetch_order("nope")


@given(deployment=st.text(max_size=40), key=st.text(max_size=80))
def test_derived_client_order_ids_are_valid_and_stable(deployment: str, key: str) -> None:
    cid = derive_client_order_id(deployment, key)
    assert is_valid_client_order_id(cid) and len(cid) <= 36
    assert cid == derive_client_order_id(deployment, key)
    assert client_order_id_for(make_intent(cid, Side.BUY, "1")) == cid


def test_invalid_client_order_id_is_refused() -> None:
    with pytest.raises(ValueError):
        client_order_id_for(make_intent("has space", Side.BUY, "1"))


def test_paper_broker_behind_the_gate(tmp_path) -> None:
    from quantdesk.broker import GatedBroker
    from quantdesk.ledger import Ledger
    from quantdesk.risk import RiskConfig, RiskGate

    clock = ManualClock(T0)
    paper = PaperBroker(name="paper", clock=clock, cost_model=CostModel(fee_bps=10))
    paper.update_price("BTC/USDT", 100)
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}", clock=clock, migrate=True) as ledger:
        # a bid resting 10 % under the market: wider than the built-in 500 bps band, so this desk says so
        risk = RiskConfig.from_dict({"default": {"price_band_bps": 1500}})
        gated = GatedBroker(paper, ledger, RiskGate(risk, clock, ledger), clock=clock)
        gated.start()
        assert gated.submit(make_intent("g1", Side.BUY, "0.5")).status is OrderStatus.FILLED
        assert gated.submit(make_intent("g2", Side.BUY, "0.5", "90")).status is OrderStatus.OPEN
        paper.update_bar("BTC/USDT", open=95, high=96, low=89, close=91)  # fills g2 while nobody watches
        report = gated.reconcile()
        assert report.agreed and report.corrected_orders == ("g2",)
        assert ledger.position("BTC/USDT", venue="paper") == Decimal("1.0")
        assert [f.fee for f in ledger.fills(venue="paper")] == [f.fee for f in paper.fills_since(None)]


def test_loss_limit_trips_through_the_gated_broker(tmp_path) -> None:
    """A daily loss past the limit moves the deployment to REDUCING: stored, notified, enforced."""
    from quantdesk.broker import GatedBroker
    from quantdesk.core import TradingState
    from quantdesk.ledger import Ledger
    from quantdesk.risk import RiskConfig, RiskGate

    class Inbox:
        def __init__(self) -> None:
            self.events: list = []

        def notify(self, event) -> bool:
            self.events.append(event)
            return True

    clock = ManualClock(T0)
    paper = PaperBroker(name="paper", clock=clock, cost_model=CostModel(fee_bps=10), balances={"USDT": 10_000})
    paper.update_price("BTC/USDT", 100)
    config = RiskConfig.from_dict({"default": {"daily_loss_limit_pct": 3, "on_daily_loss": "REDUCING"}})
    inbox = Inbox()
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}", clock=clock, migrate=True) as ledger:
        gated = GatedBroker(paper, ledger, RiskGate(config, clock, ledger), clock=clock, notifier=inbox)
        gated.start()
        assert gated.submit(make_intent("l1", Side.BUY, "1"), equity=Decimal(10_000)).status is OrderStatus.FILLED
        assert gated.record_equity(Decimal(9_800), deployment="dep") is None  # -2 %: within the limit
        change = gated.record_equity(Decimal(9_690), deployment="dep")  # -3.1 %: past it
        assert change is not None and change.state is TradingState.REDUCING
        events = ledger.risk_events()
        assert [e.code for e in events] == ["DAILY_LOSS_LIMIT"]
        assert any("REDUCING" in n.title for n in inbox.events)
        # REDUCING: a buy that grows the position is denied, a sell that shrinks it passes
        denied = gated.submit(make_intent("l2", Side.BUY, "0.1"), equity=Decimal(9_690))
        assert not denied.approved and denied.code == "REDUCING_ONLY"
        assert gated.submit(make_intent("l3", Side.SELL, "0.5"), equity=Decimal(9_690)).status is OrderStatus.FILLED
