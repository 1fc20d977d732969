"""The CLI: user add/list, promote, approve, deployments, deployment create/show/retire (with --json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app

from .conftest import LENIENT, StoredEvidence

runner = CliRunner()

LENIENT_TOML = (
    "[promotion]\nmin_oos_sharpe = -10.0\nmax_drawdown = 1.0\nmin_trades = 1\nmin_deflated_sharpe = 0.0\n"
)


PASSWORDS = {"alice": "alice-passphrase", "rita": "rita-passphrase", "bob": "bob-passphrase",
             "tess": "tess-passphrase"}


def _invoke(*args: str) -> object:
    """Run the CLI the way a script does: `--as NAME` proves NAME with their password on stdin."""
    argv, stdin = list(args), ""
    if "--as" in argv:
        stdin += PASSWORDS.get(argv[argv.index("--as") + 1], "wrong-passphrase") + "\n"
        argv.append("--password-stdin")
    if argv[:2] == ["user", "add"]:
        stdin += PASSWORDS.get(argv[2], "new-user-passphrase") + "\n"
    return runner.invoke(app, argv, input=stdin)


def _ok(*args: str) -> object:
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def users(quantdesk_home: Path) -> None:
    _ok("user", "add", "alice", "--role", "admin", "--as", "alice")
    _ok("user", "add", "rita", "--role", "researcher", "--as", "alice")
    _ok("user", "add", "bob", "--role", "trader", "--as", "alice")


def test_user_commands(users: None) -> None:
    listed = _ok("user", "list", "--json")
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "admin"), ("bob", "trader"), ("rita", "researcher")]
    denied = _invoke("user", "add", "eve", "--role", "admin", "--as", "rita")
    assert denied.exit_code == 4  # PermissionDeniedError: the policy's refusal, one line naming the role
    assert "administer users needs the role admin" in denied.output


def test_a_refused_promotion_prints_every_failing_gate_as_json(
    users: None, evidence: StoredEvidence, quantdesk_home: Path
) -> None:
    (quantdesk_home / "quantdesk.toml").write_text("[promotion]\nmin_trades = 100000\n")
    result = _invoke(*["promote", evidence.ref, "--run", evidence.bare_run_id, "--to", "paper",
                                 "--name", "mom", "--as", "rita", "--json"])
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert payload["status"] == "refused"
    assert {"lookahead", "min_trades"} <= set(payload["failing_gates"])
    assert {g["name"] for g in payload["gates"]} == {
        "code_hash", "lookahead", "oos_sharpe", "max_drawdown", "min_trades", "deflated_sharpe"}
    assert all({"name", "passed", "figure", "threshold"} <= set(g) for g in payload["gates"])
    assert "refused" in result.stderr and "lookahead" in result.stderr and "min_trades" in result.stderr


def test_promote_approve_and_list_through_the_cli(
    users: None, evidence: StoredEvidence, quantdesk_home: Path
) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(LENIENT_TOML)
    promoted = _ok("promote", evidence.ref, "--run", evidence.run_id, "--to", "paper", "--name", "mom",
                   "--capital", "3000", "--as", "rita", "--json")
    assert promoted["status"] == "approved" and promoted["to_stage"] == "paper"
    assert promoted["evidence"]["walkforward_run_id"] == evidence.walkforward_run_id

    listed = _ok("deployments", "--json")
    assert [(d["name"], d["stage"], d["state"], d["capital"], d["pnl"], d["last_bar_ts"]) for d in listed] == [
        ("mom", "paper", "idle", "3000", None, None)
    ]
    assert "mom" in _ok("deployments")

    # Live needs paper days and drift: without paper history the request is refused, and says why.
    live = _invoke(*["promote", evidence.ref, "--run", evidence.run_id, "--to", "live",
                               "--name", "mom", "--as", "bob"])
    assert live.exit_code == 3
    assert "paper_days" in live.stderr and "drift_bps" in live.stderr

    denied = _invoke(*["approve", "mom", "--as", "bob"])
    assert denied.exit_code != 0 and "no live promotion" in denied.stderr

    shown = _ok("deployment", "show", "mom", "--json")
    assert shown["stage"] == "paper"
    assert [p["status"] for p in shown["promotions"]] == ["approved", "refused"]


def test_deployment_create_show_and_retire(users: None) -> None:
    created = _ok("deployment", "create", "sma-btc", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                  "--timeframe", "1h", "--param", "fast=5", "--param", "slow=20", "--as", "rita", "--json")
    assert created["stage"] == "research" and created["params"] == {"fast": 5, "slow": 20}
    retired = _ok("deployment", "retire", "sma-btc", "--reason", "done", "--as", "bob", "--json")
    assert retired["stage"] == "retired"
    missing = runner.invoke(app, ["deployment", "show", "nope"])
    assert missing.exit_code != 0 and "no deployment named 'nope'" in missing.stderr


def test_every_command_has_an_example_in_its_help() -> None:
    for command in (["promote"], ["approve"], ["deployments"], ["deployment", "create"], ["deployment", "show"],
                    ["deployment", "retire"], ["user", "add"], ["user", "list"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.stdout and "--json" in result.stdout


def _pending_live_request(evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]) -> None:
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import promote

    with Ledger() as ledger:
        promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="rita", name="mom", gates=LENIENT)
        promote(ledger, evidence.ref, run_id=evidence.run_id, to="live", actor="bob", name="mom", gates=LENIENT,
                drift=fake_drift())


def test_approve_through_the_cli_refuses_the_requester_then_accepts_another_trader(
    users: None, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _ok("user", "add", "tess", "--role", "trader", "--as", "alice")
    _pending_live_request(evidence, fake_drift)
    listed = _ok("deployments", "--json")
    assert listed[0]["stage"] == "paper"
    assert listed[0]["pending_promotion"]["to_stage"] == "live"
    assert listed[0]["pending_promotion"]["requested_by"] == "bob"

    own = _invoke(*["approve", "mom", "--as", "bob", "--json"])
    assert own.exit_code != 0 and "cannot approve it" in own.stderr

    approved = _ok("approve", "mom", "--as", "tess", "--json")
    assert (approved["status"], approved["decided_by"], approved["to_stage"]) == ("approved", "tess", "live")
    listed = _ok("deployments", "--json")
    assert (listed[0]["stage"], listed[0]["approved_by"], listed[0]["pending_promotion"]) == ("live", "tess", None)


def test_a_pending_live_promotion_can_be_rejected_with_a_reason(
    users: None, evidence: StoredEvidence, fake_drift: Callable[..., Callable[..., object]]
) -> None:
    _pending_live_request(evidence, fake_drift)
    no_reason = _invoke(*["approve", "mom", "--reject", "--as", "alice"])
    assert no_reason.exit_code != 0 and "--reason" in no_reason.stderr
    rejected = _ok("approve", "mom", "--reject", "--reason", "drift too young", "--as", "alice", "--json")
    assert (rejected["status"], rejected["decided_by"], rejected["reason"]) == ("refused", "alice", "drift too young")
    shown = _ok("deployment", "show", "mom", "--json")
    assert shown["stage"] == "paper"
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        entry = ledger.audit_log(action="promotion.reject")[-1]
    assert entry.actor == "alice" and entry.payload["requested_by"] == "bob"


def test_deployment_create_finds_the_lake_exchange_of_a_paper_deployment(users: None) -> None:
    from quantdesk.lake import Lake
    from tests.lake.lake_helpers import candles

    lake = Lake()
    lake.write(candles(list(range(120))), exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    created = _ok("deployment", "create", "one", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                  "--timeframe", "1m", "--as", "alice", "--json")
    assert created["exchange"] == "synthetic"
    # a second exchange with the same symbol: guessing could trade on the wrong prices
    lake.write(candles(list(range(120))), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    ambiguous = _invoke(*["deployment", "create", "two", "--strategy", "sma_cross", "--symbols",
                                    "BTC/USDT", "--timeframe", "1m", "--as", "alice"])
    assert ambiguous.exit_code != 0
    assert "binance, synthetic" in ambiguous.stderr and "--exchange" in ambiguous.stderr
    explicit = _ok("deployment", "create", "three", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                   "--timeframe", "1m", "--exchange", "binance", "--as", "alice", "--json")
    assert explicit["exchange"] == "binance"
