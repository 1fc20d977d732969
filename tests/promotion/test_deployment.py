"""Deployments in the ledger: create, list, runner progress and its audit, retire, risk, users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.core.errors import PermissionDeniedError, PromotionError
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.promotion import (
    DeploymentState,
    add_user,
    create_deployment,
    get_deployment,
    list_deployments,
    list_users,
    record_runner_progress,
    resolve_actor,
    retire_deployment,
    risk_config_for,
)

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _create(ledger: Ledger, name: str = "sma-btc") -> None:
    create_deployment(ledger, name, strategy="sma_cross", symbols=["BTC/USDT"], timeframe="1h",
                      params={"fast": 5, "slow": 20}, capital="1000", actor="rita")


def test_a_created_deployment_round_trips(ledger: Ledger) -> None:
    _create(ledger)
    d = get_deployment(ledger, "sma-btc")
    assert (d.stage, d.state, d.created_by) == (Stage.RESEARCH, DeploymentState.IDLE, "rita")
    assert d.params == {"fast": 5, "slow": 20} and d.capital == Decimal("1000")
    assert len(d.code_hash) == 64
    assert [x.name for x in list_deployments(ledger)] == ["sma-btc"]
    assert list_deployments(ledger, stage="paper") == []
    assert ledger.audit_log(action="deployment.create")[-1].actor == "rita"
    with pytest.raises(PromotionError, match="already exists"):
        _create(ledger)
    with pytest.raises(PromotionError, match="no deployment named 'nope' .*known: sma-btc"):
        get_deployment(ledger, "nope")
    with pytest.raises(PromotionError, match="invalid"):
        _create(ledger, "bad name!")


def test_runner_progress_is_stored_and_state_changes_are_audited(ledger: Ledger) -> None:
    _create(ledger)
    record_runner_progress(ledger, "sma-btc", state="running", detail="started", actor="runner:host")
    for i in range(3):
        d = record_runner_progress(ledger, "sma-btc", last_bar_ts=T0 + timedelta(hours=i), pnl=Decimal("1.5") * i)
    assert d.last_bar_ts == T0 + timedelta(hours=2) and d.first_bar_ts == T0
    assert d.pnl == Decimal("3.0") and d.state is DeploymentState.RUNNING
    record_runner_progress(ledger, "sma-btc", state=DeploymentState.HALTED, detail="daily loss")
    record_runner_progress(ledger, "sma-btc", state="stopped", detail="SIGTERM", actor="operator")
    trail = [(e.action, e.actor) for e in ledger.audit_log() if e.action.startswith("deployment.")]
    assert trail == [("deployment.create", "rita"), ("deployment.start", "runner:host"),
                     ("deployment.halt", "runner"), ("deployment.stop", "operator")]
    halt = ledger.audit_log(action="deployment.halt")[-1]
    assert halt.payload["detail"] == "daily loss" and halt.payload["previous"] == "running"


def test_a_retired_deployment_stays_retired_and_a_running_one_cannot_retire(ledger: Ledger) -> None:
    _create(ledger)
    record_runner_progress(ledger, "sma-btc", state="running")
    with pytest.raises(PromotionError, match="is running"):
        retire_deployment(ledger, "sma-btc", actor="alice")
    record_runner_progress(ledger, "sma-btc", state="stopped")
    d = retire_deployment(ledger, "sma-btc", actor="alice", reason="replaced")
    assert d.stage is Stage.RETIRED and not d.is_tradable
    assert ledger.audit_log(action="deployment.retire")[-1].payload["reason"] == "replaced"


def test_risk_profile_and_overrides_apply_to_the_deployment(ledger: Ledger, quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(
        "[risk.default]\nmax_notional_per_order = 1000\n"
        "[risk.deployments.cautious]\nmax_notional_per_order = 100\nmax_position_notional = 500\n"
    )
    create_deployment(ledger, "x", strategy="sma_cross", symbols=["BTC/USDT"], timeframe="1h", actor="rita",
                      risk_profile="cautious", risk_overrides={"max_position_notional": 300})
    limits = risk_config_for(get_deployment(ledger, "x")).limits_for("x", "BTC/USDT")
    assert limits.max_notional_per_order == 100 and limits.max_position_notional == 300
    create_deployment(ledger, "y", strategy="sma_cross", symbols=["BTC/USDT"], timeframe="1h", actor="rita",
                      risk_profile="missing")
    with pytest.raises(PromotionError, match="risk profile 'missing'"):
        risk_config_for(get_deployment(ledger, "y"))


def test_users_need_an_admin_first_and_only_admins_add_users(db_url: str) -> None:
    with Ledger(db_url, migrate=True) as ledger:
        with pytest.raises(PromotionError, match="add an admin first"):
            add_user(ledger, "bob", "trader", actor="bob")
        add_user(ledger, "alice", "admin", actor="alice")
        add_user(ledger, "bob", "trader", actor="alice")
        with pytest.raises(PermissionDeniedError, match="administer users needs the role admin"):
            add_user(ledger, "eve", "admin", actor="bob")
        with pytest.raises(PromotionError, match="unknown role 'boss'"):
            add_user(ledger, "eve", "boss", actor="alice")
        add_user(ledger, "bob", "viewer", actor="alice")  # a role change
        assert [(u.name, u.role.value) for u in list_users(ledger)] == [("alice", "admin"), ("bob", "viewer")]
        assert [e.actor for e in ledger.audit_log(action="user.add")] == ["alice", "alice", "alice"]


def test_the_actor_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_USER", "from-env")
    assert resolve_actor("explicit") == "explicit"
    assert resolve_actor(None) == "from-env"
    monkeypatch.delenv("QUANTDESK_USER")
    assert resolve_actor(None)  # the OS login name
