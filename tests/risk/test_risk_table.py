"""Play the risk table (risk_cases.py) against a real RiskGate on a ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

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
from tests.risk.risk_cases import BTC, BTC_RULES, CASES, ETH, Case


def _var_model() -> object:
    """The VaR cases' model (issue 25): 101 days; BTC's two worst are -25 % and -12.5 %, ETH only gains."""
    import numpy as np

    from quantdesk.risk import VarModel

    returns = np.full((101, 2), 0.015625)
    returns[10, 0], returns[20, 0] = -0.25, -0.125
    desk = np.array([100.0, 0.0])
    return VarModel(day="2026-01-05", symbols=(BTC, ETH), returns=returns, prices=np.array([100.0, 10.0]),
                    confidence=0.99, method="historical", desk=desk, desk_equity=1000.0,
                    deployments={"alpha": (desk, 500.0)})


TABLE_VAR_MODEL = _var_model()

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ETH_RULES = {"tick_size": 0.01, "lot_step": 0.001, "min_qty": 0.001, "max_qty": 10000.0, "min_notional": 5.0}


def make_intent(clock: ManualClock, overrides: dict[str, Any]) -> OrderIntent:
    fields: dict[str, Any] = {
        "deployment": "alpha", "symbol": BTC, "side": "buy", "type": "limit", "qty": "1", "price": "100",
        "reduce_only": False,
    }
    fields.update(overrides)
    price = fields["price"]
    return OrderIntent(
        client_order_id=f"t-{clock.now_ms()}",
        deployment=fields["deployment"],
        venue="sim",
        symbol=fields["symbol"],
        side=Side(fields["side"]),
        type=OrderType(fields["type"]),
        qty=Decimal(fields["qty"]),
        price=None if price is None else Decimal(price),
        reduce_only=fields["reduce_only"],
        ts=clock.now(),
    )


def make_context(overrides: dict[str, Any]) -> RiskContext:
    rules = overrides.get("rules", BTC_RULES)
    market_rules = {ETH: MarketRules(**ETH_RULES)}
    if rules is not None:
        market_rules[BTC] = MarketRules(**rules)
    else:
        market_rules = {}
    dec = lambda m: {k: Decimal(v) for k, v in m.items()}  # noqa: E731
    return RiskContext(
        positions=dec(overrides.get("positions", {})),
        mark_prices=dec(overrides.get("mark_prices", {BTC: "100", ETH: "10"})),
        last_prices=dec(overrides.get("last_prices", {BTC: "100", ETH: "10"})),
        equity=Decimal(overrides["equity"]) if "equity" in overrides else None,
        active_orders=overrides.get("active_orders", {}),
        market_rules=market_rules,
        leverage=dec(overrides.get("leverage", {})),
        entry_prices=dec(overrides.get("entry_prices", {})),
    )


def case_config(case: Case) -> dict[str, Any]:
    """The case's [risk] table; unless the case is about them, the built-in limits written out as "none"."""
    if case.builtins:
        return case.config
    default = {**{key: "none" for key in BUILTIN_LIMITS}, **case.config.get("default", {})}
    return {**case.config, "default": default}


def run_case(case: Case) -> tuple[RiskGate, DenialCode]:
    clock = ManualClock(START)
    store = MemoryStateStore(*(ScopeState(scope=s, state=TradingState(v)) for s, v in case.states.items()))
    gate = RiskGate(RiskConfig.from_dict(case_config(case)), clock, store, var_model=lambda: TABLE_VAR_MODEL)
    base_context = make_context({})
    for step in case.prior:
        kind = step[0]
        if kind == "order":
            gate.check(make_intent(clock, step[1]), base_context)
        elif kind == "fill":
            gate.on_fill(deployment="alpha", symbol=step[1])
        elif kind == "cancel":
            gate.check_cancel(deployment="alpha", symbol=step[1])
        elif kind == "wait":
            clock.advance(step[1])
        elif kind == "equity":
            gate.on_equity(Decimal(step[1]), deployment=step[2] if len(step) > 2 else "alpha")
        else:
            raise AssertionError(f"unknown prior step {step}")
    if case.action == "cancel":
        decision = gate.check_cancel(deployment=case.intent.get("deployment", "alpha"), symbol=case.intent.get("symbol", BTC))
    else:
        decision = gate.check(make_intent(clock, case.intent), make_context(case.context))
    assert decision.approved == (decision.code is DenialCode.APPROVED)
    assert decision.approved or decision.detail, "a denial must say why"
    return gate, decision.code


def test_table_is_large_and_covers_every_code() -> None:
    assert len(CASES) >= 200
    covered = {c.expect for c in CASES}
    assert covered == {code.value for code in DenialCode}, set(DenialCode) - covered


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_risk_case(case: Case) -> None:
    _, code = run_case(case)
    assert code == case.expect
