"""Hypothesis invariants of the risk gate: whatever the intents, no approval breaks a limit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.core import ManualClock, MarketRules, OrderIntent, OrderType, Side, TradingState
from quantdesk.risk import (
    BUILTIN_LIMITS,
    DenialCode,
    MemoryStateStore,
    RiskConfig,
    RiskContext,
    RiskGate,
    ScopeState,
)

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
START = datetime(2026, 1, 5, tzinfo=UTC)
LIMITS = {
    "max_qty_per_order": 3,
    "max_notional_per_order": 250,
    "max_position_qty": 5,
    "max_position_notional": 450,
    "max_gross_exposure": 700,
    "max_active_orders": 4,
    "max_orders_per_second": 3,
    "max_symbol_orders_per_second": 2,
    "price_band_bps": 300,
}
RULES = MarketRules(tick_size=0.5, lot_step=0.01, min_qty=0.01, max_qty=100, min_notional=1)

decimals = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(8), places=2)
intents = st.builds(
    dict,
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(list(Side)),
    type=st.sampled_from(list(OrderType)),
    qty=decimals,
    price=st.decimals(min_value=Decimal(90), max_value=Decimal(110), places=1),
    reduce_only=st.sampled_from([False, False, False, False, True]),
    wait_ms=st.integers(min_value=0, max_value=700),
)
books = st.fixed_dictionaries(
    {s: st.decimals(min_value=Decimal(-6), max_value=Decimal(6), places=2) for s in SYMBOLS}
)


def _intent(clock: ManualClock, i: int, spec: dict) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"h-{i}", deployment="alpha", venue="sim", symbol=spec["symbol"], side=spec["side"],
        type=spec["type"], qty=spec["qty"], price=spec["price"] if spec["type"] is OrderType.LIMIT else None,
        reduce_only=spec["reduce_only"], ts=clock.now(),
    )


def _inside_every_limit(intent: OrderIntent, positions: dict[str, Decimal], active: int,
                        approvals: list[tuple[int, str]], seen: dict[tuple, int], now: int) -> bool:
    """An independent reading of LIMITS, RULES and the built-in duplicate window: may this order pass?"""
    price = intent.price if intent.price is not None else Decimal(100)
    pre = positions[intent.symbol]
    post = pre + intent.signed_qty
    if intent.price is not None and (intent.price % Decimal("0.5") != 0 or abs(intent.price - 100) > 3):
        return False  # off the tick, or outside the 300 bps band
    if intent.qty * price < 1 or intent.qty > LIMITS["max_qty_per_order"]:
        return False  # min notional, max qty per order
    if intent.qty * price > LIMITS["max_notional_per_order"]:
        return False
    if intent.reduce_only and not (pre != 0 and intent.signed_qty * pre < 0 and intent.qty <= abs(pre)):
        return False
    if abs(post) > abs(pre) or post * pre < 0:  # the order adds exposure
        if abs(post) > LIMITS["max_position_qty"] or abs(post) * 100 > LIMITS["max_position_notional"]:
            return False
        others = sum(abs(q) for s, q in positions.items() if s != intent.symbol)
        if abs(post) > abs(pre) and (others + abs(post)) * 100 > LIMITS["max_gross_exposure"]:
            return False
    if active >= LIMITS["max_active_orders"]:
        return False
    recent = [s for t, s in approvals if now - t < 1000]
    if len(recent) >= LIMITS["max_orders_per_second"]:
        return False
    if sum(1 for s in recent if s == intent.symbol) >= LIMITS["max_symbol_orders_per_second"]:
        return False
    last = seen.get((intent.symbol, intent.side, intent.qty, intent.price))
    return last is None or now - last >= BUILTIN_LIMITS["duplicate_window_ms"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(intents, min_size=1, max_size=25), book=books, active=st.integers(0, 6))
def test_approved_orders_never_exceed_a_limit(specs: list[dict], book: dict, active: int) -> None:
    """No approval breaks a limit, AND every order inside all limits is approved (a gate that
    denied everything would pass the first half alone)."""
    clock = ManualClock(START)
    gate = RiskGate(RiskConfig.from_dict({"default": LIMITS}), clock)  # the built-in duplicate window stays on
    marks = {s: Decimal(100) for s in SYMBOLS}
    positions = dict(book)
    approvals: list[int] = []
    history: list[tuple[int, str]] = []
    seen: dict[tuple, int] = {}
    for i, spec in enumerate(specs):
        clock.advance(spec["wait_ms"])
        context = RiskContext(
            positions=positions, mark_prices=marks, last_prices=marks,
            active_orders={"BTC/USDT": active}, market_rules={s: RULES for s in SYMBOLS},
        )
        intent = _intent(clock, i, spec)
        inside = _inside_every_limit(intent, positions, active, history, seen, clock.now_ms())
        decision = gate.check(intent, context)
        assert decision.approved == inside, (intent, decision)
        if not decision.approved:
            assert decision.code is not DenialCode.APPROVED and decision.detail
            continue
        approvals.append(clock.now_ms())
        history.append((clock.now_ms(), intent.symbol))
        seen[(intent.symbol, intent.side, intent.qty, intent.price)] = clock.now_ms()
        price = intent.price if intent.price is not None else marks[intent.symbol]
        pre = positions[intent.symbol]
        post = pre + intent.signed_qty
        assert intent.qty <= LIMITS["max_qty_per_order"]
        assert intent.qty * price <= LIMITS["max_notional_per_order"]
        assert intent.qty % Decimal("0.01") == 0
        if intent.price is not None:
            assert intent.price % Decimal("0.5") == 0
            assert abs(intent.price - 100) <= 3
        if abs(post) > abs(pre) or post * pre < 0:  # the order adds exposure
            assert abs(post) <= LIMITS["max_position_qty"]
            assert abs(post) * 100 <= LIMITS["max_position_notional"]
        if abs(post) > abs(pre):
            gross = sum(abs(q) for s, q in positions.items() if s != intent.symbol) * 100 + abs(post) * 100
            assert gross <= LIMITS["max_gross_exposure"]
        if intent.reduce_only:
            assert abs(post) < abs(pre) or (post == 0 and pre != 0)
        assert active < LIMITS["max_active_orders"]
        in_last_second = [t for t in approvals if clock.now_ms() - t < 1000]
        assert len(in_last_second) <= LIMITS["max_orders_per_second"]
        positions[intent.symbol] = post  # the order filled at once


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(intents, min_size=1, max_size=15), book=books)
def test_halted_lets_only_cancels_through(specs: list[dict], book: dict) -> None:
    clock = ManualClock(START)
    gate = RiskGate(RiskConfig.from_dict({}), clock)
    gate.halt("test")
    context = RiskContext(positions=book, last_prices={s: Decimal(100) for s in SYMBOLS})
    for i, spec in enumerate(specs):
        decision = gate.check(_intent(clock, i, spec), context)
        assert not decision.approved
        assert decision.code in (DenialCode.TRADING_HALTED, DenialCode.INVALID_QTY, DenialCode.INVALID_PRICE)
        assert gate.check_cancel(deployment="alpha", symbol=spec["symbol"]).approved


@settings(max_examples=80, deadline=None)
@given(specs=st.lists(intents, min_size=1, max_size=20), book=books, scope=st.sampled_from(["global", "deployment:alpha"]))
def test_reducing_never_increases_or_flips_a_position(specs: list[dict], book: dict, scope: str) -> None:
    clock = ManualClock(START)
    store = MemoryStateStore(ScopeState(scope=scope, state=TradingState.REDUCING))
    gate = RiskGate(RiskConfig.from_dict({}), clock, store)
    positions = dict(book)
    for i, spec in enumerate(specs):
        context = RiskContext(positions=positions, last_prices={s: Decimal(100) for s in SYMBOLS})
        intent = _intent(clock, i, spec)
        decision = gate.check(intent, context)
        pre = positions[intent.symbol]
        post = pre + intent.signed_qty
        if decision.approved:
            assert abs(post) < abs(pre)
            assert post * pre >= 0  # never flips
            positions[intent.symbol] = post
        else:
            assert decision.code is DenialCode.REDUCING_ONLY or abs(post) < abs(pre)
    assert gate.state is (TradingState.REDUCING if scope == "global" else TradingState.ACTIVE)
