"""Live promotions: paper days and drift gates, roles, and approval by a second person."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from quantdesk.core.errors import PermissionDeniedError, PromotionError
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.promotion import (
    PromotionRefused,
    PromotionStatus,
    approve,
    get_deployment,
    list_promotions,
    promote,
)

from .conftest import LENIENT, StoredEvidence, run_evidence, write_strategy


def _paper(ledger: Ledger, evidence: StoredEvidence, name: str = "mom") -> None:
    promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="rita", name=name, gates=LENIENT)


def _request_live(ledger: Ledger, evidence: StoredEvidence, drift: Callable[..., object], actor: str = "bob") -> object:
    return promote(ledger, evidence.ref, run_id=evidence.run_id, to="live", actor=actor, name="mom",
                   gates=LENIENT, drift=drift, capital=5000)


def test_a_live_promotion_approved_by_its_own_requester_is_refused(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _paper(ledger, evidence)
    request = _request_live(ledger, evidence, fake_drift())
    assert request.status is PromotionStatus.PENDING
    assert get_deployment(ledger, "mom").stage is Stage.PAPER  # not live before approval
    with pytest.raises(PromotionError, match="bob requested the live promotion .* cannot approve it"):
        approve(ledger, "mom", actor="bob")
    assert get_deployment(ledger, "mom").stage is Stage.PAPER
    refusal = ledger.audit_log(action="approval.refuse")[-1]
    assert refusal.actor == "bob" and refusal.payload["requested_by"] == "bob"
    assert list_promotions(ledger, deployment="mom", status="pending_approval")  # still waiting


def test_a_live_promotion_with_a_second_approver_goes_live_and_is_audited(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _paper(ledger, evidence)
    _request_live(ledger, evidence, fake_drift(days=20, drift_bps=4.0))
    with pytest.raises(PermissionDeniedError, match="role researcher: approve or reject a live promotion needs"):
        approve(ledger, "mom", actor="rita")
    with pytest.raises(PermissionDeniedError, match="role viewer"):
        approve(ledger, "mom", actor="vic")
    decided = approve(ledger, "mom", actor="tess", reason="paper looks like the backtest")
    assert decided.status is PromotionStatus.APPROVED and decided.decided_by == "tess"
    live = get_deployment(ledger, "mom")
    assert live.stage is Stage.LIVE
    assert live.approved_by == "tess"
    assert str(live.capital) == "5000"
    assert live.code_hash == decided.code_hash
    evidence_json = decided.evidence["evidence"]
    assert evidence_json["paper_days"] == 20 and evidence_json["drift_bps"] == 4.0
    actions = [(e.action, e.actor) for e in ledger.audit_log() if e.action.startswith(("promotion", "approval"))]
    assert actions == [
        ("promotion.paper", "rita"),
        ("promotion.request", "bob"),
        ("promotion.approve", "tess"),
    ]
    # a role refusal is the policy's: audited once, as auth.denied, naming the action
    assert [(e.actor, e.payload["action"]) for e in ledger.audit_log(action="auth.denied")] == [
        ("rita", "decide_live"), ("vic", "decide_live")]
    assert ledger.verify_audit().ok
    with pytest.raises(PromotionError, match="no live promotion of 'mom' is waiting"):
        approve(ledger, "mom", actor="alice")


def test_live_needs_paper_trading_within_the_drift_threshold(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    with pytest.raises(PromotionRefused, match="paper_days: missing .* promote it --to paper"):
        _request_live(ledger, evidence, fake_drift())
    _paper(ledger, evidence)
    with pytest.raises(PromotionRefused) as caught:
        _request_live(ledger, evidence, fake_drift(days=2.0, drift_bps=40.0))
    failing = {g.name: g for g in caught.value.request.failing_gates}
    assert set(failing) == {"paper_days", "drift_bps"}
    assert failing["paper_days"].figure == 2.0 and failing["drift_bps"].figure == 40.0
    assert "needs <= 10.0" in str(caught.value)
    with pytest.raises(PromotionRefused, match="drift_bps: missing"):
        _request_live(ledger, evidence, fake_drift(days=30.0, drift_bps=None))


def test_roles_limit_who_may_promote(ledger: Ledger, evidence: StoredEvidence,
                                     fake_drift: Callable[..., Callable[..., object]]) -> None:
    with pytest.raises(PermissionDeniedError, match="role viewer: promote to paper needs the role"):
        promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="vic", gates=LENIENT)
    _paper(ledger, evidence)
    with pytest.raises(PermissionDeniedError, match="role researcher: request promotion to live needs"):
        _request_live(ledger, evidence, fake_drift(), actor="rita")
    with pytest.raises(PermissionDeniedError, match="'mallory' is not a registered user"):
        _request_live(ledger, evidence, fake_drift(), actor="mallory")
    refusals = ledger.audit_log(action="auth.denied")
    # an unregistered name is whatever somebody typed: the audit says "unknown user"
    assert [(e.actor, e.payload["action"]) for e in refusals] == [
        ("vic", "promote_paper"), ("rita", "promote_live"), ("unknown user", "promote_live")]


def test_an_approval_is_refused_when_the_code_changed_after_the_request(
    ledger: Ledger, tmp_path: Path, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    path = tmp_path / "strategy.py"
    ref = write_strategy(path)
    run_id, _ = run_evidence(ref)
    promote(ledger, ref, run_id=run_id, to="paper", actor="bob", name="mom", gates=LENIENT)
    promote(ledger, ref, run_id=run_id, to="live", actor="bob", name="mom", gates=LENIENT, drift=fake_drift())
    path.write_text(path.read_text() + "\n# tweaked after the request\n")
    with pytest.raises(PromotionError, match="strategy source changed"):
        approve(ledger, "mom", actor="tess")
    assert get_deployment(ledger, "mom").stage is Stage.PAPER


def test_a_new_live_request_supersedes_the_pending_one(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _paper(ledger, evidence)
    first = _request_live(ledger, evidence, fake_drift())
    second = _request_live(ledger, evidence, fake_drift(), actor="tess")
    statuses = {r.id: r.status for r in list_promotions(ledger, deployment="mom")}
    assert statuses[first.id] is PromotionStatus.SUPERSEDED
    assert statuses[second.id] is PromotionStatus.PENDING
    approve(ledger, "mom", actor="bob")  # bob did not ask for the live request that counts
    assert get_deployment(ledger, "mom").approved_by == "bob"


def test_a_running_paper_deployment_is_stopped_before_it_goes_live(
    ledger: Ledger, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    from quantdesk.promotion import record_runner_progress

    _paper(ledger, evidence)
    record_runner_progress(ledger, "mom", state="running")
    _request_live(ledger, evidence, fake_drift())  # paper keeps running while the request waits
    with pytest.raises(PromotionError, match="is running on paper: stop its runner"):
        approve(ledger, "mom", actor="tess")
    record_runner_progress(ledger, "mom", state="stopped")
    approve(ledger, "mom", actor="tess")
    live = get_deployment(ledger, "mom")
    assert (live.stage, live.state) == (Stage.LIVE, "idle")
