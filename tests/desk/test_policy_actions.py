"""Every dashboard action asks the policy at the moment of the click (issue 23), for every role and for a
user disabled after the page was drawn; expectations come from POLICY. (The browser test sends a forged
click through a viewer's websocket; here the same server-side functions, for each role, in-process.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quantdesk.core.errors import PermissionDeniedError
from quantdesk.desk import download, halt, place_order, resume, send_test
from quantdesk.identity import add_user, set_disabled
from quantdesk.identity.policy import Action, may
from quantdesk.ledger import Ledger

ROLES = {"ada": "admin", "tina": "trader", "rhea": "researcher", "vera": "viewer", "dora": "trader"}


def _refused(outcome: Any) -> bool:
    text = outcome if isinstance(outcome, str) else outcome.message
    return text.startswith("refused: ")


def _download(ledger: Ledger, who: str) -> bool:
    try:
        download(ledger, who, "fills.csv")
    except PermissionDeniedError:
        return True
    return False


# action -> (what the page calls, whether the answer is the policy's refusal)
ACTIONS: dict[Action, Callable[[Ledger, str], bool]] = {
    Action.HALT: lambda ledger, who: _refused(halt(ledger, who)),
    Action.RESUME: lambda ledger, who: _refused(resume(ledger, who)),
    Action.RESUME_AFTER_LOSS_HALT: lambda ledger, who: _refused(resume(ledger, who)),
    Action.ORDER: lambda ledger, who: _refused(place_order(ledger, who, venue="nowhere", symbol="BTC/USDT",
                                                           side="buy", qty="1")),
    Action.SEND_TEST_NOTIFICATION: lambda ledger, who: _refused(send_test(ledger, who)),
    Action.EXPORT: _download,
}


@pytest.fixture
def ledger(quantdesk_home: Path) -> Any:
    with Ledger() as opened:
        for name, role in ROLES.items():
            add_user(opened, name, role, actor="ada")
        set_disabled(opened, "dora", True, actor="ada")  # as if disabled while her page stays open
        yield opened


@pytest.mark.parametrize("action", list(ACTIONS), ids=lambda a: a.name.lower())
def test_each_page_action_is_answered_as_the_policy_says(ledger: Ledger, action: Action) -> None:
    wrong = []
    for who, role in ROLES.items():
        if action is Action.RESUME_AFTER_LOSS_HALT:
            ledger.set_trading_state("global", "HALTED", "drawdown limit", "risk-gate")
        elif action is Action.RESUME:
            ledger.set_trading_state("global", "HALTED", "operator halt", "ada")
        before = len(ledger.audit_log(action="auth.denied"))
        refused = ACTIONS[action](ledger, who)
        expected = may(role, action) and who != "dora"
        if refused == expected:
            wrong.append(f"{who} ({role}): refused={refused}")
        denials = ledger.audit_log(action="auth.denied")[before:]
        if refused:
            assert [(e.actor, e.payload["action"], e.payload["via"]) for e in denials] == [
                (who, action.name.lower(), "dashboard")]
    assert not wrong, f"{action.name}: answers that disagree with the policy: {wrong}"
