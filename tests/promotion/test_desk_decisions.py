"""Approve / Reject from the dashboard (`quantdesk.desk.decide_promotion`): the same four-eyes rules."""

from __future__ import annotations

from collections.abc import Callable

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
    assert {r["name"]: r for r in deployments(ledger, "alice")}["mom"]["may_decide"] is True
    own = decide_promotion(ledger, "bob", "mom", approve=True)
    viewer = decide_promotion(ledger, "vic", "mom", approve=True)
    assert not own.ok and "cannot approve" in own.message
    assert not viewer.ok and "viewer" in viewer.message
    assert get_deployment(ledger, "mom").stage is Stage.PAPER
    assert [e.actor for e in ledger.audit_log(action="dashboard.refused")] == ["bob", "vic"]
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
