"""Identity is part of correctness: `--as` needs a password, and four eyes are two authenticated people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.ledger import Ledger

runner = CliRunner()
PW = {"alice": "alice-passphrase", "bob": "bob-passphrase", "carol": "carol-passphrase"}


@pytest.fixture
def desk(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """alice (admin, the default identity), bob (trader), carol (viewer); records the refusal delays."""
    import quantdesk.cli._auth as auth

    delays: list[float] = []
    monkeypatch.setattr(auth.time, "sleep", delays.append)
    monkeypatch.setenv("QUANTDESK_USER", "alice")
    first = runner.invoke(app, ["user", "add", "alice", "--role", "admin", "--password-stdin"], input=PW["alice"] + "\n")
    assert first.exit_code == 0, first.output
    for name, role in (("bob", "trader"), ("carol", "viewer")):
        added = runner.invoke(app, ["user", "add", name, "--role", role, "--password-stdin"],
                              input=f"{PW['alice']}\n{PW[name]}\n")
        assert added.exit_code == 0, added.output
    return delays


def _audit(action: str) -> list[object]:
    with Ledger() as ledger:
        return ledger.audit_log(action=action)


def test_acting_as_someone_else_needs_their_password(desk: list[float]) -> None:
    wrong = runner.invoke(app, ["deployment", "create", "x", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                                "--timeframe", "1h", "--as", "bob", "--password-stdin"], input="not-bobs-password\n")
    assert wrong.exit_code == 3 and "login refused for 'bob'" in wrong.stderr
    assert desk == [1.0], "a refused password is answered slowly"
    [failed] = _audit("auth.failed")
    assert failed.actor == "alice" and failed.payload == {"user": "bob", "via": "cli"}
    right = runner.invoke(app, ["deployment", "create", "x", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                                "--timeframe", "1h", "--as", "bob", "--password-stdin", "--json"],
                          input=PW["bob"] + "\n")
    assert right.exit_code == 0, right.output
    assert json.loads(right.stdout)["created_by"] == "bob"
    no_terminal = runner.invoke(app, ["deployment", "create", "y", "--strategy", "sma_cross", "--symbols",
                                      "BTC/USDT", "--timeframe", "1h", "--as", "bob"])
    assert no_terminal.exit_code == 3 and "--password-stdin" in no_terminal.stderr


def test_user_administration_needs_an_authenticated_admin(desk: list[float]) -> None:
    by_trader = runner.invoke(app, ["user", "add", "eve", "--role", "admin", "--as", "bob", "--password-stdin"],
                              input=f"{PW['bob']}\nnew-passphrase\n")
    assert by_trader.exit_code == 4 and "administer users needs the role admin" in by_trader.output
    unproven = runner.invoke(app, ["user", "disable", "bob", "--password-stdin"], input="guess-guess\n")
    assert unproven.exit_code == 3, "even as yourself, user administration needs your password"
    disabled = runner.invoke(app, ["user", "disable", "bob", "--password-stdin"], input=PW["alice"] + "\n")
    assert disabled.exit_code == 0, disabled.output
    acting = runner.invoke(app, ["deployment", "create", "x", "--strategy", "sma_cross", "--symbols", "BTC/USDT",
                                 "--timeframe", "1h", "--as", "bob", "--password-stdin"], input=PW["bob"] + "\n")
    assert acting.exit_code == 4, "a disabled user cannot act"  # refused by the policy before any password
    assert "user 'bob' is disabled" in acting.stderr
    listed = json.loads(runner.invoke(app, ["user", "list", "--json"]).stdout)
    assert {u["name"]: u["disabled"] for u in listed} == {"alice": False, "bob": True, "carol": False}
    assert all("hash" not in json.dumps(u) for u in listed)


def test_changing_a_password_needs_the_old_one(desk: list[float]) -> None:
    wrong = runner.invoke(app, ["user", "passwd", "carol", "--as", "carol", "--password-stdin"],
                          input="not-carols\nbrand-new-passphrase\n")
    assert wrong.exit_code == 3
    changed = runner.invoke(app, ["user", "passwd", "carol", "--as", "carol", "--password-stdin"],
                            input=f"{PW['carol']}\nbrand-new-passphrase\n")
    assert changed.exit_code == 0, changed.output
    from quantdesk.identity import authenticate

    with Ledger() as ledger:
        assert authenticate(ledger, "carol", "brand-new-passphrase").name == "carol"


def test_a_live_approval_cannot_be_given_by_claiming_a_name(desk: list[float]) -> None:
    """Four eyes: `approve --as bob` without bob's password is refused before anything is decided."""
    claimed = runner.invoke(app, ["approve", "mom", "--as", "bob", "--password-stdin"], input=PW["alice"] + "\n")
    assert claimed.exit_code == 3 and "login refused" in claimed.stderr
    assert _audit("promotion.approve") == []
    own = runner.invoke(app, ["approve", "mom", "--password-stdin"], input="not-alices\n")
    assert own.exit_code == 3, "approving needs your own password too"
