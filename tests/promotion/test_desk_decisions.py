"""Approve / Reject from the dashboard (`quantdesk.desk.decide_promotion`): the same four-eyes rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quantdesk.core.types import Stage
from quantdesk.desk import decide_promotion, deployments
from quantdesk.ledger import Ledger
from quantdesk.promotion import get_deployment, promote

from .conftest import LENIENT, StoredEvidence


def _pending(ledger: Ledger, evidence: StoredEvidence, drift: Callable[..., object]) -> None:
    promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="rita", name="mom", gates=LENIENT)
    promote(ledger, evidence.ref, run_id=evidence.run_id, to="live", actor="bob", name="mom", gates=LENIENT,
            drift=drift, capital=5000)


def test_the_requester_and_a_viewer_are_refused_and_a_second_trader_approves(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _pending(ledger, evidence, fake_drift())
    rows = {r["name"]: r for r in deployments(ledger, "bob")}
    assert rows["mom"]["pending"] == "-> live by bob" and rows["mom"]["may_decide"] is False  # not his own
    assert rows["mom"]["evidence"] == evidence.run_id
    assert "ok paper_days: " in rows["mom"]["gates"] and "ok drift_bps: " in rows["mom"]["gates"]  # figure, threshold
    assert {r["name"]: r for r in deployments(ledger, "alice")}["mom"]["may_decide"] is True
    own = decide_promotion(ledger, "bob", "mom", approve=True)
    viewer = decide_promotion(ledger, "vic", "mom", approve=True)
    assert not own.ok and "cannot approve" in own.message
    assert not viewer.ok and "viewer" in viewer.message
    assert get_deployment(ledger, "mom").stage is Stage.PAPER
    assert [e.actor for e in ledger.audit_log(action="dashboard.refused")] == ["bob"]  # four eyes: promotion's rule
    [denied] = ledger.audit_log(action="auth.denied")  # the role: the policy's, with the door it came through
    assert denied.actor == "vic" and denied.payload == {"action": "decide_live", "via": "dashboard", "reason": "role"}
    done = decide_promotion(ledger, "alice", "mom", approve=True)
    assert done.ok and get_deployment(ledger, "mom").stage is Stage.LIVE
    assert get_deployment(ledger, "mom").approved_by == "alice"


def test_a_rejection_from_the_dashboard_keeps_the_deployment_on_paper(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _pending(ledger, evidence, fake_drift())
    outcome = decide_promotion(ledger, "alice", "mom", approve=False, reason="drift too high on ETH")
    assert outcome.ok and get_deployment(ledger, "mom").stage is Stage.PAPER
    assert deployments(ledger, "alice")[0]["pending"] is None


def test_promotion_from_the_dashboard_follows_the_roles_and_the_gates(
    ledger: Ledger, evidence: StoredEvidence, quantdesk_home: Path,
) -> None:
    from quantdesk.desk import request_promotion

    viewer = request_promotion(ledger, "vic", strategy=evidence.ref, run_id=evidence.run_id, to="paper", name="mom")
    assert not viewer.ok and "viewer" in viewer.message
    gated = request_promotion(ledger, "rita", strategy=evidence.ref, run_id=evidence.run_id, to="paper", name="mom")
    assert not gated.ok and gated.message.startswith("refused by the gates: deflated_sharpe")  # the default gates
    (quantdesk_home / "quantdesk.toml").write_text(
        "[promotion]\nmin_oos_sharpe = -10.0\nmax_drawdown = 1.0\nmin_trades = 1\nmin_deflated_sharpe = 0.0\n")
    done = request_promotion(ledger, "rita", strategy=evidence.ref, run_id=evidence.run_id, to="paper", name="mom")
    assert done.ok and get_deployment(ledger, "mom").stage is Stage.PAPER, done.message
    refused = request_promotion(ledger, "rita", strategy=evidence.ref, run_id="backtest-nope", to="paper", name="x")
    assert not refused.ok and "backtest-nope" in refused.message
