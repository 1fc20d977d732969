"""The pre-trade VaR limit (issue 25): `max_desk_var_pct`, `max_deployment_var_pct`, code VAR_LIMIT_EXCEEDED."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from quantdesk.core import ManualClock, OrderIntent, OrderType, Side
from quantdesk.core.errors import RiskError
from quantdesk.risk import DenialCode, RiskConfig, RiskContext, RiskGate, VarModel
from quantdesk.risk.analytics import book_var

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
PRICES = np.array([60_000.0, 3_000.0, 150.0])
RETURNS = np.random.default_rng(5).standard_t(4, size=(365, 3)) * np.array([0.03, 0.04, 0.06])
CLOCK = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))


def _model(method: str = "historical", desk: tuple[float, ...] = (600_000.0, 0.0, 0.0),
           equity: float = 1_000_000.0) -> VarModel:
    x = np.asarray(desk)
    return VarModel(day="2026-01-05", symbols=SYMBOLS, returns=RETURNS, prices=PRICES, confidence=0.99,
                    method=method, desk=x, desk_equity=equity,
                    deployments={"alpha": (x / 2, 100_000.0)})


def _intent(symbol: str, side: Side, qty: str, deployment: str = "manual") -> OrderIntent:
    return OrderIntent(client_order_id=f"t-{symbol}-{side}-{qty}", deployment=deployment, venue="sim", symbol=symbol,
                       side=side, type=OrderType.MARKET, qty=Decimal(qty), ts=CLOCK.now())


def _gate(config: dict, model: VarModel | None) -> RiskGate:
    # the book is worth a million: the built-in notional cap per order is removed (in writing) to see the VaR rule
    config = {**config, "default": {"max_notional_per_order": "none", **config.get("default", {})}}
    return RiskGate(RiskConfig.from_dict(config), CLOCK, var_model=None if model is None else (lambda: model))


CONTEXT = RiskContext(last_prices={s: Decimal(str(p)) for s, p in zip(SYMBOLS, PRICES, strict=True)})


@pytest.mark.parametrize("method", ["historical", "gaussian"])
def test_the_dot_product_equals_the_full_computation(method: str) -> None:
    model = _model(method)
    after = np.array([600_000.0, 150_000.0, -30_000.0])
    fast = model.var_of(model.desk, {1: 150_000.0, 2: -30_000.0})
    assert fast == pytest.approx(book_var(RETURNS, after, confidence=0.99, method=method).var_quote, rel=1e-10)


@pytest.mark.parametrize("method", ["historical", "gaussian"])
def test_an_order_that_lifts_the_desk_var_over_the_limit_is_denied_with_the_figures(method: str) -> None:
    model = _model(method)
    now = model.var_of(model.desk, {})
    limit_pct = 100 * now / 1_000_000 * 1.05  # 5 % of headroom
    gate = _gate({"default": {"max_desk_var_pct": round(limit_pct, 4)}}, model)
    small = gate.check(_intent("BTC/USDT", Side.BUY, "0.1"), CONTEXT)  # +6,000 of BTC: fits
    assert small.approved, small.detail
    big = gate.check(_intent("BTC/USDT", Side.BUY, "2"), CONTEXT)  # +120,000 of BTC: does not
    assert not big.approved and big.code is DenialCode.VAR_LIMIT_EXCEEDED
    assert "desk VaR (0.99, 1d" in big.detail and "above max_desk_var_pct" in big.detail
    assert f"it is {now:,.2f} now" in big.detail
    reduce = gate.check(_intent("BTC/USDT", Side.SELL, "3"), CONTEXT)  # lowers the VaR: always passes
    assert reduce.approved


def test_a_book_already_over_its_limit_can_still_be_reduced_but_not_grown() -> None:
    model = _model()
    gate = _gate({"default": {"max_desk_var_pct": 0.01}}, model)
    assert gate.check(_intent("BTC/USDT", Side.SELL, "1"), CONTEXT).approved
    denied = gate.check(_intent("SOL/USDT", Side.BUY, "10000"), CONTEXT)
    assert denied.code is DenialCode.VAR_LIMIT_EXCEEDED


def test_the_deployment_limit_uses_its_own_book_and_equity() -> None:
    model = _model()
    own = model.var_of(model.deployments["alpha"], {})
    gate = _gate({"deployments": {"alpha": {"max_deployment_var_pct": round(100 * own / 100_000 * 1.01, 6)}}}, model)
    denied = gate.check(_intent("BTC/USDT", Side.BUY, "1", deployment="alpha"), CONTEXT)
    assert denied.code is DenialCode.VAR_LIMIT_EXCEEDED and "deployment VaR" in denied.detail
    assert "max_deployment_var_pct" in denied.detail and "equity 100,000.00" in denied.detail
    assert gate.check(_intent("BTC/USDT", Side.BUY, "1", deployment="beta"), CONTEXT).approved  # not alpha's limit


def test_without_a_limit_or_without_a_model_the_rule_does_nothing_and_a_broken_model_fails_closed() -> None:
    model = _model()
    assert _gate({}, model).check(_intent("BTC/USDT", Side.BUY, "50"), CONTEXT).approved
    assert _gate({"default": {"max_desk_var_pct": 0.01}}, None).check(_intent("BTC/USDT", Side.BUY, "50"),
                                                                    CONTEXT).approved

    def broken() -> VarModel:
        raise RiskError("BTC/USDT has no history in the lake: ingest it first")

    gate = RiskGate(RiskConfig.from_dict({"default": {"max_desk_var_pct": 5}}), CLOCK, var_model=broken)
    denied = gate.check(_intent("BTC/USDT", Side.BUY, "0.1"), CONTEXT)
    assert denied.code is DenialCode.VAR_LIMIT_EXCEEDED and "ingest it first" in denied.detail
    unknown = _gate({"default": {"max_desk_var_pct": 5}}, model).check(_intent("DOGE/USDT", Side.BUY, "1"), CONTEXT)
    assert unknown.code is DenialCode.VAR_LIMIT_EXCEEDED and "no return history" in unknown.detail


def test_the_limits_are_deployment_wide_settings() -> None:
    with pytest.raises(RiskError, match="deployment-wide limit"):
        RiskConfig.from_dict({"symbols": {"BTC/USDT": {"max_desk_var_pct": 5}}})
    with pytest.raises(RiskError, match="max_desk_var_pct"):
        RiskConfig.from_dict({"default": {"max_desk_var_pct": 0}})
    config = RiskConfig.from_dict({"default": {"max_desk_var_pct": 5}, "var": {"method": "gaussian"}})
    assert config.limits_for("x", "BTC/USDT").max_desk_var_pct == Decimal(5)
    assert config.var_settings.method == "gaussian"
    with pytest.raises(RiskError, match="risk.var.method"):
        RiskConfig.from_dict({"var": {"method": "monte-carlo"}})  # the gate computes historical or gaussian


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), qty=st.floats(-50, 50).filter(lambda q: abs(q) > 1e-6),
       headroom=st.floats(0.5, 3.0), column=st.integers(0, 2))
def test_the_cached_bound_never_approves_what_the_exact_vaR_would_deny(seed: int, qty: float, headroom: float,
                                                                        column: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(3, size=(150, 3)) * 0.05
    desk = rng.uniform(-100_000, 100_000, size=3)
    model = VarModel(day="d", symbols=SYMBOLS, returns=returns, prices=PRICES, confidence=0.99, method="historical",
                     desk=desk, desk_equity=1_000_000.0)
    limit_pct = 100 * model.desk.var / 1_000_000 * headroom
    order = qty * PRICES[column]
    after = desk.copy()
    after[column] += order
    exact_after = book_var(returns, after, confidence=0.99).var_quote
    exact_ok = exact_after <= limit_pct / 100 * 1_000_000 or exact_after <= model.desk.var
    decision = _gate({"default": {"max_desk_var_pct": round(limit_pct, 9)}}, model).check(
        _intent(SYMBOLS[column], Side.BUY if qty > 0 else Side.SELL, f"{abs(qty):.6f}"), CONTEXT)
    if decision.approved != exact_ok:  # only a hair at the boundary may differ (rounding of qty and limit)
        assert abs(exact_after - limit_pct / 100 * 1_000_000) < 1e-3 * max(exact_after, 1.0)


def test_the_bound_is_tight_where_every_scenario_moves_by_its_maximum() -> None:
    returns = RETURNS.copy()
    returns[:, 1] = -0.02  # ETH loses 2 % in every scenario: an ETH buy moves each one by its maximum
    model = VarModel(day="d", symbols=SYMBOLS, returns=returns, prices=PRICES, confidence=0.99, method="historical",
                     desk=np.array([600_000.0, 0.0, 0.0]), desk_equity=1_000_000.0)
    order = 10 * 3_000.0
    exact = model.var_of(model.desk, {1: order})
    assert exact == pytest.approx(model.desk.var + 0.02 * order, rel=1e-12)
    limit_pct = 100 * (model.desk.var + 0.75 * 0.02 * order) / 1_000_000
    decision = _gate({"default": {"max_desk_var_pct": round(limit_pct, 9)}}, model).check(
        _intent("ETH/USDT", Side.BUY, "10"), CONTEXT)
    assert decision.code is DenialCode.VAR_LIMIT_EXCEEDED
