"""Each row of the policy through the API: the answer is 403 exactly when the token's scope or its user's
role does not allow the action, for every role x scope; tokens that are revoked, expired or whose user is
disabled stop at once; the approver must not be the requester. Expectations come from POLICY itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from quantdesk.identity import set_disabled
from quantdesk.identity.policy import POLICY, Action, may
from quantdesk.identity.tokens import create_token, revoke_token, scope_covers
from quantdesk.ledger.schema import api_tokens
from tests.api.conftest import ROLES, Desk

pytestmark = pytest.mark.integration

ORDER = {"venue": "nowhere", "symbol": "BTC/USDT", "side": "buy", "qty": "0.1"}  # unknown venue: 422 after the check
# one request per action the API offers; once allowed, each fails harmlessly (or acts and is undone)
REQUESTS: dict[Action, Callable[[httpx.Client, dict[str, str]], httpx.Response]] = {
    Action.VIEW: lambda c, h: c.get("/v1/positions", headers=h),
    Action.VIEW_AUDIT: lambda c, h: c.get("/v1/audit", headers=h),
    Action.HALT: lambda c, h: c.post("/v1/halt", headers=h, json={"reason": "policy test"}),
    Action.RESUME: lambda c, h: c.post("/v1/resume", headers=h, json={"reason": "policy test"}),
    Action.RESUME_AFTER_LOSS_HALT: lambda c, h: c.post("/v1/resume", headers=h, json={"reason": "policy test"}),
    Action.ORDER: lambda c, h: c.post("/v1/orders", headers={**h, "Idempotency-Key": "policy"}, json=ORDER),
    Action.CANCEL: lambda c, h: c.post("/v1/orders/qd-unknown/cancel", headers=h),
    Action.PROMOTE_PAPER: lambda c, h: c.post("/v1/promotions", headers=h,
                                              json={"strategy": "sma_cross", "run_id": "backtest-none", "to": "paper"}),
    Action.PROMOTE_LIVE: lambda c, h: c.post("/v1/promotions", headers=h,
                                             json={"strategy": "sma_cross", "run_id": "backtest-none", "to": "live"}),
    Action.DECIDE_LIVE: lambda c, h: c.post("/v1/deployments/nothing-pending/approve", headers=h, json={}),
}


def _before(desk: Desk, action: Action) -> None:
    """Put the desk where the action applies: a loss-limit halt to resume after, a plain halt to resume."""
    if action is Action.RESUME_AFTER_LOSS_HALT:
        desk.ledger.set_trading_state("global", "HALTED", "daily loss limit", "risk-gate")
    elif action is Action.RESUME:
        desk.ledger.set_trading_state("global", "HALTED", "operator halt", "ada")
    else:
        desk.ledger.set_trading_state("global", "ACTIVE", "policy test", "ada")


@pytest.mark.parametrize("action", list(REQUESTS), ids=lambda a: a.name.lower())
def test_every_role_and_scope_is_answered_as_the_policy_says(client: httpx.Client, desk: Desk, action: Action) -> None:
    rule = POLICY[action]
    wrong = []
    for user, role in ROLES.items():
        for scope in ("read", "trade", "admin"):
            _before(desk, action)
            answer = REQUESTS[action](client, desk.auth(user, scope))
            allowed = may(role, action) and scope_covers(scope, rule.scope)
            refused = answer.status_code == 403
            if allowed == refused or answer.status_code in (401, 500):
                wrong.append(f"{role}/{scope}: {answer.status_code} {answer.text[:160]}")
            if refused:
                message = answer.json()["error"]["message"]
                reason = "needs scope" if not scope_covers(scope, rule.scope) else "needs the role"
                assert reason in message, message
    assert not wrong, f"{action.name}: answers that disagree with the policy: {wrong}"


def test_a_read_token_cannot_halt_and_the_refusal_is_audited_with_the_prefix(client: httpx.Client, desk: Desk) -> None:
    token = desk.tokens["tina"]["read"]
    answer = client.post("/v1/halt", headers={"Authorization": f"Bearer {token}"}, json={"reason": "try"})
    assert answer.status_code == 403
    assert answer.json()["error"]["message"].startswith(f"token {token[:12]} has scope read: halt trading needs "
                                                        "scope trade")
    assert desk.ledger.get_trading_state("global") == "ACTIVE"
    refusal = desk.ledger.audit_log(action="api.refused")[-1]
    assert refusal.payload["token"] == token[:12] and refusal.payload["reason"] == "scope"
    assert refusal.actor == "tina" and token not in str(refusal.payload)


def test_a_viewers_trade_token_cannot_trade(client: httpx.Client, desk: Desk) -> None:
    answer = client.post("/v1/orders", headers={**desk.auth("vera", "trade"), "Idempotency-Key": "v1"}, json=ORDER)
    assert answer.status_code == 403
    assert "user 'vera' has role viewer: place a manual order needs the role admin or trader" in answer.text
    denied = desk.ledger.audit_log(action="auth.denied")[-1]
    assert denied.actor == "vera" and denied.payload == {"action": "order", "via": "api", "reason": "role"}


def _status(client: httpx.Client, token: str) -> tuple[int, dict[str, Any]]:
    answer = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.json()


def test_revoked_expired_unknown_and_malformed_tokens_get_401(client: httpx.Client, desk: Desk) -> None:
    token = desk.tokens["tina"]["read"]
    assert _status(client, token)[0] == 200
    revoke_token(desk.ledger, token[:12], actor="ada")
    code, body = _status(client, token)
    assert code == 401 and body["error"]["code"] == "unauthorized" and "was revoked" in body["error"]["message"]

    fresh, info = create_token(desk.ledger, user="tina", scope="read", expires="1h", actor="ada")
    assert _status(client, fresh)[0] == 200
    with desk.ledger.engine.begin() as c:  # an hour later
        c.execute(update(api_tokens).where(api_tokens.c.prefix == info.prefix)
                  .values(expires_at=desk.ledger._now() - timedelta(seconds=1)))
    code, body = _status(client, fresh)
    assert code == 401 and "expired" in body["error"]["message"]

    forged = fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB")  # right prefix, wrong secret
    assert _status(client, forged)[1]["error"]["message"].startswith(f"API token {fresh[:12]} is not known")
    assert "malformed" in _status(client, "not-a-token")[1]["error"]["message"]
    answer = client.get("/v1/me")
    assert answer.status_code == 401 and "no API token" in answer.json()["error"]["message"]
    reasons = [e.payload["reason"] for e in desk.ledger.audit_log(action="api.refused")]
    assert reasons[-5:] == ["revoked", "expired", "unknown", "malformed", "missing"]


def test_a_disabled_users_tokens_stop_at_once(client: httpx.Client, desk: Desk) -> None:
    headers = desk.auth("theo", "trade")
    assert client.get("/v1/me", headers=headers).status_code == 200
    set_disabled(desk.ledger, "theo", True, actor="ada")
    answer = client.post("/v1/halt", headers=headers, json={})
    assert answer.status_code == 403 and "user 'theo' is disabled" in answer.json()["error"]["message"]
    assert client.get("/v1/me", headers=headers).status_code == 403
    set_disabled(desk.ledger, "theo", False, actor="ada")
    assert client.get("/v1/me", headers=headers).status_code == 200
