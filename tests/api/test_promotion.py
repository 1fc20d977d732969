"""Promotion through the API: paper at once on passing gates, live by request and a second person (four eyes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from quantdesk.core.types import Stage
from quantdesk.promotion import get_deployment, list_promotions, promote
from tests.api.conftest import Desk
from tests.promotion.conftest import LENIENT, FakeDrift, run_evidence, write_strategy

pytestmark = pytest.mark.integration


@pytest.fixture
def evidence(quantdesk_home: Path) -> Iterator[tuple[str, str]]:
    """A backtested strategy and lenient [promotion] gates in quantdesk.toml."""
    (quantdesk_home / "quantdesk.toml").write_text(
        "[promotion]\nmin_oos_sharpe = -10.0\nmax_drawdown = 1.0\nmin_trades = 1\nmin_deflated_sharpe = 0.0\n")
    ref = write_strategy(quantdesk_home / "momentum.py")
    run_id, _ = run_evidence(ref)
    yield ref, run_id


def test_paper_through_the_api_then_live_approved_only_by_another_person(
        client: httpx.Client, desk: Desk, evidence: tuple[str, str]) -> None:
    ref, run_id = evidence
    body = {"strategy": ref, "run_id": run_id, "to": "paper", "name": "mom"}
    assert client.post("/v1/promotions", headers=desk.auth("vera", "trade"), json=body).status_code == 403
    assert client.post("/v1/promotions", headers=desk.auth("rhea", "read"), json=body).status_code == 403
    made = client.post("/v1/promotions", headers=desk.auth("rhea", "trade"), json=body)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "approved" and made.json()["to_stage"] == "paper"
    assert get_deployment(desk.ledger, "mom").stage is Stage.PAPER
    # the live request (its drift gate needs paper days: a stand-in report here), by tina
    promote(desk.ledger, ref, run_id=run_id, to="live", actor="tina", name="mom", gates=LENIENT,
            drift=lambda ledger, deployment: FakeDrift(days=20, drift_bps=3.0))
    pending = client.get("/v1/deployments/mom", headers=desk.auth("vera", "read")).json()["pending_promotion"]
    assert pending["requested_by"] == "tina" and pending["to_stage"] == "live"

    # four eyes: another token of the same user is the same person
    own = client.post("/v1/deployments/mom/approve", headers=desk.auth("tina", "admin"), json={"reason": "mine"})
    assert own.status_code == 409, own.text
    assert "tina requested the live promotion of 'mom' and cannot approve it" in own.json()["error"]["message"]
    assert client.post("/v1/deployments/mom/approve", headers=desk.auth("rhea", "trade"), json={}).status_code == 403
    assert client.post("/v1/deployments/mom/approve", headers=desk.auth("theo", "read"), json={}).status_code == 403
    assert get_deployment(desk.ledger, "mom").stage is Stage.PAPER

    approved = client.post("/v1/deployments/mom/approve", headers=desk.auth("theo", "trade"),
                           json={"reason": "paper matches the backtest"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == "theo" and approved.json()["status"] == "approved"
    assert get_deployment(desk.ledger, "mom").stage is Stage.LIVE
    decisions = [(e.action, e.actor) for e in desk.ledger.audit_log() if e.action.startswith(("promotion", "approval"))]
    assert decisions == [("promotion.paper", "rhea"), ("promotion.request", "tina"), ("approval.refuse", "tina"),
                         ("promotion.approve", "theo")]


def test_a_live_request_is_rejected_with_a_reason_or_withdrawn_by_its_requester(
        client: httpx.Client, desk: Desk, evidence: tuple[str, str]) -> None:
    ref, run_id = evidence
    promote(desk.ledger, ref, run_id=run_id, to="paper", actor="rhea", name="mom", gates=LENIENT)
    drift = lambda ledger, deployment: FakeDrift(days=20, drift_bps=3.0)  # noqa: E731
    promote(desk.ledger, ref, run_id=run_id, to="live", actor="tina", name="mom", gates=LENIENT, drift=drift)
    no_reason = client.post("/v1/deployments/mom/reject", headers=desk.auth("theo", "trade"), json={})
    assert no_reason.status_code == 409 and "say why" in no_reason.json()["error"]["message"]
    rejected = client.post("/v1/deployments/mom/reject", headers=desk.auth("theo", "trade"),
                           json={"reason": "drift too close to the limit"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "refused"
    promote(desk.ledger, ref, run_id=run_id, to="live", actor="tina", name="mom", gates=LENIENT, drift=drift)
    withdrawn = client.post("/v1/deployments/mom/reject", headers=desk.auth("tina", "trade"),
                            json={"reason": "withdrawn"})
    assert withdrawn.status_code == 200 and withdrawn.json()["decided_by"] == "tina"
    assert not list_promotions(desk.ledger, deployment="mom", status="pending_approval")
