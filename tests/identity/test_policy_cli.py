"""Each row of the policy from the CLI (issue 23): every acting command asks `identity.policy`, for every
role, for a name nobody registered and for a disabled user. The expected answer of each (action, identity)
comes from POLICY itself, so the test follows the table instead of a list that could drift from it.

A refusal is exit code 4, one line naming the roles that may, and an `auth.denied` audit entry naming
the action (an unregistered name is audited as "unknown user", never as typed). An allowed identity gets
past the policy: the command may still fail afterwards (an unknown venue, no such deployment), but never
with the policy's refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.identity import add_user, set_disabled
from quantdesk.identity.passwords import hash_password
from quantdesk.identity.policy import POLICY, Action, may, roles_for
from quantdesk.ledger import Ledger
from quantdesk.ledger.registry import update_user

runner = CliRunner()
PASSWORD = "policy-passphrase"
ROLES = {"ada": "admin", "tina": "trader", "rhea": "researcher", "vera": "viewer"}
DISABLED = "dora"  # a trader, disabled: her role would allow what she is refused
UNREGISTERED = "nobody"
IDENTITIES = [*ROLES, DISABLED, UNREGISTERED]
_HASH = hash_password(PASSWORD)  # one argon2 hash for every user: the tests are about roles, not hashing

# One command per action: (argv for the acting identity, stdin lines after the password).
Command = Callable[[str, Path], list[str]]
COMMANDS: dict[Action, Command] = {
    Action.VIEW: lambda who, _: ["notify", "subscribe", who, "--channel", "no-such-channel"],  # yourself: any role
    Action.VIEW_AUDIT: lambda who, _: ["audit", "log"],
    Action.HALT: lambda who, _: ["halt", "--reason", "policy test"],
    Action.RESUME: lambda who, _: ["resume"],
    Action.RESUME_AFTER_LOSS_HALT: lambda who, _: ["resume"],
    Action.ORDER: lambda who, _: ["order", "--venue", "nowhere", "--symbol", "BTC/USDT", "--side", "buy",
                                  "--qty", "1", "--password-stdin"],
    Action.CANCEL: lambda who, _: ["cancel", "qd-unknown", "--venue", "nowhere"],
    Action.RECONCILE: lambda who, _: ["reconcile", "--venue", "nowhere"],
    Action.PROMOTE_PAPER: lambda who, _: ["promote", "sma_cross", "--run", "backtest-none", "--to", "paper"],
    Action.PROMOTE_LIVE: lambda who, _: ["promote", "sma_cross", "--run", "backtest-none", "--to", "live",
                                         "--password-stdin"],
    Action.DECIDE_LIVE: lambda who, _: ["approve", "nothing-pending", "--password-stdin"],
    Action.CREATE_DEPLOYMENT: lambda who, _: ["deployment", "create", f"d-{who}", "--strategy", "sma_cross",
                                              "--symbols", "BTC/USDT", "--timeframe", "1h"],
    Action.RETIRE_DEPLOYMENT: lambda who, _: ["deployment", "retire", "no-such-deployment"],
    Action.RUN_DEPLOYMENT: lambda who, _: ["run", "no-such-deployment", "--once"],
    Action.MANAGE_USERS: lambda who, _: ["user", "disable", "no-such-user", "--password-stdin"],
    Action.MANAGE_KEYS: lambda who, _: ["keys", "set", "sim", "--stdin"],
    Action.ROTATE_MASTER_KEY: lambda who, _: ["keys", "rotate-master", "--password-stdin"],
    Action.MANAGE_CHANNELS: lambda who, _: ["notify", "channel", "remove", "no-such-channel", "--stdin"],
    Action.SEND_TEST_NOTIFICATION: lambda who, _: ["notify", "test"],
    Action.EXPORT: lambda who, tmp: ["export", "fills", "-o", str(tmp / f"fills-{who}.csv")],
    Action.RUN_FLOWS: lambda who, _: ["flows", "run", "research-nightly"],
    Action.MANAGE_API_TOKENS: lambda who, _: ["api", "token", "list", "--password-stdin"],
}
STDIN = {Action.MANAGE_KEYS: ["policy-key", "policy-secret"]}  # after the password: what `keys set` reads


def test_every_action_has_a_command_here() -> None:
    assert set(COMMANDS) == set(Action), "a new action needs its CLI row in this test"


@pytest.fixture
def desk(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user of every role and a disabled trader, all with PASSWORD; `flows run` never reaches Prefect."""
    import quantdesk.ops.prefect_ctl as prefect_ctl

    def no_prefect(name: str, params: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"deployment": name, "name": "policy-test", "flow_run_id": "none", "state": "SCHEDULED",
                "message": "", "ui_url": ""}

    monkeypatch.setattr(prefect_ctl, "run_flow", no_prefect)
    with Ledger() as ledger:
        for name, role in [*ROLES.items(), (DISABLED, "trader")]:
            add_user(ledger, name, role, actor="ada")
            update_user(ledger, name, {"password_hash": _HASH})
        set_disabled(ledger, DISABLED, True, actor="ada")


def _prepare(ledger: Ledger, action: Action) -> None:
    """Put the desk where the action applies: a person's halt to resume, an automatic one, or trading."""
    if action is Action.RESUME:
        ledger.set_trading_state("global", "HALTED", "operator halt", "ada")
    elif action is Action.RESUME_AFTER_LOSS_HALT:
        ledger.set_trading_state("global", "HALTED", "daily loss limit", "risk-gate")
    elif ledger.get_trading_state("global") != "ACTIVE":
        ledger.set_trading_state("global", "ACTIVE", "policy test", "ada")


def _expected(action: Action, who: str) -> bool:
    return who in ROLES and may(ROLES[who], action)


@pytest.mark.parametrize("action", list(COMMANDS), ids=lambda a: a.name.lower())
def test_each_identity_is_answered_as_the_policy_says(
    desk: None, action: Action, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong: list[str] = []
    for who in IDENTITIES:
        with Ledger() as ledger:
            _prepare(ledger, action)
            denials_before = len(ledger.audit_log(action="auth.denied"))
        monkeypatch.setenv("QUANTDESK_USER", who)
        stdin = "\n".join([PASSWORD, *STDIN.get(action, [])]) + "\n"
        result = runner.invoke(app, COMMANDS[action](who, tmp_path), input=stdin)
        with Ledger() as ledger:
            denials = ledger.audit_log(action="auth.denied")[denials_before:]
        refused = result.exit_code == 4
        if _expected(action, who) == refused:
            wrong.append(f"{who}: exit {result.exit_code}: {result.output.strip()[:200]}")
            continue
        if not refused:
            assert denials == [], f"{who} was allowed yet a refusal was audited: {denials}"
            continue
        # the refusal: one line, naming the roles that may, audited once with the action and the door
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"{action.value} needs the role" in lines[0] and all(r in lines[0] for r in roles_for(action))
        [entry] = denials
        reason = "unregistered" if who == UNREGISTERED else "disabled" if who == DISABLED else "role"
        assert entry.actor == ("unknown user" if who == UNREGISTERED else who)
        assert entry.payload == {"action": action.name.lower(), "via": "cli", "reason": reason}
    assert not wrong, f"{action.name}: answers that disagree with the policy: {wrong}"


def test_the_table_names_proof_where_the_cli_asks_for_a_password(desk: None, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """A rule with proof asks the acting user's password even as themselves; a wrong one is exit code 3."""
    monkeypatch.setenv("QUANTDESK_FAILED_LOGIN_DELAY_S", "0")
    import quantdesk.cli._auth as auth

    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    monkeypatch.setenv("QUANTDESK_USER", "ada")
    for action, rule in POLICY.items():
        if not rule.proof or action in STDIN:
            continue
        with Ledger() as ledger:
            _prepare(ledger, action)
        result = runner.invoke(app, COMMANDS[action]("ada", tmp_path), input="not-the-password\n")
        assert result.exit_code == 3, f"{action.name}: {result.output}"
