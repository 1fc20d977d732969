"""RiskGate state handling: scopes, the store seam, refresh from another process, loss events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from quantdesk.core import ManualClock, OrderIntent, OrderType, Side, TradingState
from quantdesk.risk import (
    DenialCode,
    MemoryStateStore,
    RiskConfig,
    RiskContext,
    RiskGate,
    ScopeState,
)

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
CONTEXT = RiskContext(last_prices={"BTC/USDT": Decimal(100)})


def intent(clock: ManualClock, deployment: str = "alpha", side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"c-{clock.now_ms()}", deployment=deployment, venue="sim", symbol="BTC/USDT",
        side=side, type=OrderType.MARKET, qty=Decimal(1), ts=clock.now(),
    )


def test_halt_and_resume_go_through_the_store_with_the_actor() -> None:
    clock, store = ManualClock(START), MemoryStateStore()
    gate = RiskGate(RiskConfig.from_dict({}), clock, store)
    change = gate.halt("venue incident", actor="alice")
    assert (change.scope, change.previous, change.state) == ("global", TradingState.ACTIVE, TradingState.HALTED)
    assert store.history[-1][1] == "alice" and store.states["global"].state is TradingState.HALTED
    assert gate.check(intent(clock), CONTEXT).code is DenialCode.TRADING_HALTED
    gate.resume(actor="alice")
    assert gate.state is TradingState.ACTIVE
    assert gate.check(intent(clock), CONTEXT).approved


def test_a_halt_written_by_another_process_is_seen_after_the_refresh_interval() -> None:
    clock, store = ManualClock(START), MemoryStateStore()
    gate = RiskGate(RiskConfig.from_dict({}), clock, store, state_refresh_ms=1_000)
    assert gate.check(intent(clock), CONTEXT).approved
    store.set_trading_state("global", TradingState.HALTED, "cli halt", "bob")  # e.g. `quantdesk halt`
    clock.advance(999)
    assert gate.check(intent(clock, side=Side.SELL), CONTEXT).approved  # cached state still ACTIVE
    clock.advance(1)
    assert gate.check(intent(clock), CONTEXT).code is DenialCode.TRADING_HALTED


def test_state_is_loaded_from_the_store_at_start() -> None:
    store = MemoryStateStore(ScopeState(scope="deployment:alpha", state=TradingState.HALTED, reason="x"))
    gate = RiskGate(RiskConfig.from_dict({}), ManualClock(START), store)
    assert gate.state is TradingState.ACTIVE
    assert gate.effective_state("alpha").state is TradingState.HALTED
    assert gate.effective_state("beta").state is TradingState.ACTIVE


def test_loss_limit_moves_the_deployment_scope_and_reports_a_change() -> None:
    clock, store = ManualClock(START), MemoryStateStore()
    gate = RiskGate(RiskConfig.from_dict({"default": {"daily_loss_limit_pct": 5, "max_drawdown_pct": 10}}), clock, store)
    assert gate.on_equity(Decimal(1000), deployment="alpha") is None
    change = gate.on_equity(Decimal(950), deployment="alpha")
    assert change is not None
    assert (change.scope, change.state, change.code) == ("deployment:alpha", TradingState.REDUCING, DenialCode.DAILY_LOSS_LIMIT)
    assert store.history[-1][1] == "risk-gate"
    assert gate.on_equity(Decimal(940), deployment="alpha") is None  # no repeat while already REDUCING
    change = gate.on_equity(Decimal(900), deployment="alpha")
    assert change is not None and (change.state, change.code) == (TradingState.HALTED, DenialCode.MAX_DRAWDOWN)
    # resume rebases peak and day start, so the same equity does not trip again at once
    gate.resume(deployment="alpha")
    assert gate.on_equity(Decimal(900), deployment="alpha") is None
    assert gate.check(intent(clock), CONTEXT).approved


def test_cancels_pass_in_every_state() -> None:
    gate = RiskGate(RiskConfig.from_dict({}), ManualClock(START))
    for state in TradingState:
        gate.set_state(state, "test")
        assert gate.check_cancel(deployment="alpha", symbol="BTC/USDT").approved


def test_state_changes_tripped_inside_check_are_reported() -> None:
    clock = ManualClock(START)
    gate = RiskGate(RiskConfig.from_dict({"default": {"daily_loss_limit": 100}}), clock)
    gate.on_equity(Decimal(1000), deployment="alpha")
    shrink = RiskContext(last_prices={"BTC/USDT": Decimal(100)}, positions={"BTC/USDT": Decimal(2)}, equity=Decimal(890))
    assert gate.check(intent(clock, side=Side.SELL), shrink).approved  # REDUCING lets a shrinking order through
    changes = gate.pop_state_changes()
    assert [(c.state, c.code) for c in changes] == [(TradingState.REDUCING, DenialCode.DAILY_LOSS_LIMIT)]
    assert gate.pop_state_changes() == []


class FlakyStore(MemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def trading_states(self) -> list[ScopeState]:
        if self.broken:
            raise OSError("database is locked")
        return super().trading_states()


def test_an_unreadable_state_fails_closed_until_it_can_be_read() -> None:
    clock, store = ManualClock(START), FlakyStore()
    gate = RiskGate(RiskConfig.from_dict({}), clock, store, state_refresh_ms=100)
    store.broken = True
    clock.advance(100)
    decision = gate.check(intent(clock), CONTEXT)
    assert decision.code is DenialCode.TRADING_HALTED and "could not be read" in decision.detail
    store.broken = False
    assert gate.check(intent(clock, side=Side.SELL), CONTEXT).approved
