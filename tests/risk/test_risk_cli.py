"""`quantdesk halt / resume / risk status` against the real ledger (SQLite under the test's home)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core import ManualClock, OrderIntent, OrderType, Side, TradingState
from quantdesk.identity import add_user
from quantdesk.ledger import Ledger
from quantdesk.risk import DenialCode, RiskConfig, RiskContext, RiskGate

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def desk(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """alice (admin, the default identity), tina (trader), vic (viewer); no passwords: halt and resume ask none."""
    monkeypatch.setenv("QUANTDESK_USER", "alice")  # the desk identity signs, not a free-text name
    with Ledger() as ledger:
        for name, role in (("alice", "admin"), ("tina", "trader"), ("vic", "viewer")):
            add_user(ledger, name, role, actor="alice")


def test_halt_resume_status_are_audited_with_the_actor(desk: None) -> None:
    code, out, _ = invoke("halt", "--reason", "venue incident", "--json")
    assert code == 0, out
    halted = json.loads(out)
    assert (halted["scope"], halted["previous"], halted["state"], halted["actor"]) == (
        "global", "ACTIVE", "HALTED", "alice")

    code, out, _ = invoke("risk", "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["state"] == "HALTED"
    assert status["scopes"][0]["reason"] == "venue incident"

    code, out, _ = invoke("resume", "--deployment", "alpha", "--json")
    assert code == 0 and json.loads(out)["scope"] == "deployment:alpha"
    assert json.loads(out)["actor"] == "alice"

    with Ledger() as ledger:
        assert ledger.get_trading_state("global") is TradingState.HALTED
        assert ledger.get_trading_state("deployment:alpha") is TradingState.ACTIVE
        entries = ledger.audit_log(action="trading_state.set")
        assert [(e.actor, e.payload["state"]) for e in entries][0] == ("alice", "HALTED")
        assert len(entries) == 2
        assert ledger.verify_audit().ok

    code, out, _ = invoke("resume", "--reason", "incident closed")
    assert code == 0
    code, out, _ = invoke("risk", "status")
    assert code == 0 and "ACTIVE" in out


def test_status_rejects_a_bad_risk_config_with_one_line(quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text('[risk.symbols."BTC/USDT"]\nmax_orders_per_day = 5\n')
    code, out, err = invoke("risk", "status", "--json")
    assert code != 0 and out == ""
    assert "max_orders_per_day is a deployment-wide limit" in err
    assert len(err.strip().splitlines()) <= 2


def test_only_registered_traders_and_admins_halt_and_only_admins_resume_after_a_loss_halt(
    desk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for who in ("vic", "nobody"):  # a viewer, and a name nobody registered
        monkeypatch.setenv("QUANTDESK_USER", who)
        code, out, err = invoke("halt", "--reason", "prank")
        assert code == 4 and out == "" and len(err.strip().splitlines()) == 1, err
        assert "halt trading needs the role admin or trader" in err
    with Ledger() as ledger:
        assert ledger.trading_states() == []
        assert [(e.actor, e.payload["reason"]) for e in ledger.audit_log(action="auth.denied")] == [
            ("vic", "role"), ("unknown user", "unregistered")]
        ledger.set_trading_state("global", TradingState.HALTED, "daily loss limit", "risk-gate")  # automatic
    monkeypatch.setenv("QUANTDESK_USER", "tina")
    code, _, err = invoke("resume")
    assert code == 4 and "resume after an automatic loss-limit or drawdown halt needs the role admin" in err
    monkeypatch.setenv("QUANTDESK_USER", "alice")
    assert invoke("resume", "--reason", "loss reviewed")[0] == 0
    monkeypatch.setenv("QUANTDESK_USER", "tina")  # a person's halt, a trader's resume
    assert invoke("halt")[0] == 0 and invoke("resume")[0] == 0


def test_a_running_gate_sees_a_cli_halt_through_the_ledger(desk: None) -> None:
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    with Ledger(clock=clock) as ledger:
        gate = RiskGate(RiskConfig.from_dict({}), clock, ledger, state_refresh_ms=500)
        order = OrderIntent(client_order_id="c1", deployment="alpha", venue="sim", symbol="BTC/USDT",
                            side=Side.BUY, type=OrderType.MARKET, qty=Decimal(1), ts=clock.now())
        context = RiskContext(last_prices={"BTC/USDT": Decimal(100)})
        assert gate.check(order, context).approved
        assert invoke("halt", "--reason", "drill")[0] == 0
        clock.advance(500)
        decision = gate.check(order, context)
        assert decision.code is DenialCode.TRADING_HALTED and "drill" in decision.detail
        # and a loss limit written by the gate lands in the ledger, audited as the gate
        gate.resume(actor="bob")
        gate2 = RiskGate(RiskConfig.from_dict({"default": {"max_drawdown_pct": 10}}), clock, ledger)
        gate2.on_equity(Decimal(1000), deployment="alpha")
        change = gate2.on_equity(Decimal(899), deployment="alpha")
        assert change is not None and change.code is DenialCode.MAX_DRAWDOWN
        assert ledger.get_trading_state("deployment:alpha") is TradingState.HALTED
        assert ledger.audit_log(action="trading_state.set")[-1].actor == "risk-gate"


def test_acting_as_someone_else_needs_their_password(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("QUANTDESK_FAILED_LOGIN_DELAY_S", "0")
    monkeypatch.setenv("QUANTDESK_USER", "alice")
    assert runner.invoke(app, ["user", "add", "alice", "--role", "admin", "--password-stdin"], input="alice-pass\n").exit_code == 0
    assert runner.invoke(app, ["user", "add", "bob", "--role", "trader", "--password-stdin"],
                         input="alice-pass\nbob-passw\n").exit_code == 0
    refused = runner.invoke(app, ["resume", "--as", "bob", "--password-stdin"], input="wrong\n")
    assert refused.exit_code == 3
    with Ledger() as ledger:
        assert ledger.audit_log(action="trading_state.set") == []  # nothing changed in bob's name
    signed = runner.invoke(app, ["halt", "--as", "bob", "--password-stdin", "--json"], input="bob-passw\n")
    assert signed.exit_code == 0 and json.loads(signed.stdout)["actor"] == "bob"
