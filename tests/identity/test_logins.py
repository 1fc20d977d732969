"""Throttled logins and sessions that end with the user (issue 23), on SQLite and PostgreSQL.

The ledger's manual clock stands in for the 15 minutes of a lockout.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import (
    AuthenticationError,
    ConfigError,
    IdentityError,
    PermissionDeniedError,
    PromotionError,
)
from quantdesk.identity import (
    AuthConfig,
    LockedOutError,
    add_user,
    login,
    session_user,
    set_disabled,
    set_password,
    validate_username,
)
from quantdesk.identity.policy import Action, authorize
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox

PW = {"alice": "alice-passphrase", "bob": "bob-passphrase", "carol": "carol-passphrase"}
CONFIG = AuthConfig()  # the defaults: 5 refusals in 15 minutes lock for 15 minutes


@pytest.fixture
def users(ledger: Ledger) -> Ledger:
    add_user(ledger, "alice", "admin", actor="alice", password=PW["alice"])
    add_user(ledger, "bob", "trader", actor="alice", password=PW["bob"])
    add_user(ledger, "carol", "viewer", actor="alice", password=PW["carol"])
    return ledger


def _refuse(ledger: Ledger, name: str, times: int, *, address: str | None = "10.0.0.1") -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            login(ledger, name, "not-the-password", address=address, via="dashboard", config=CONFIG)


def test_five_refusals_lock_the_name_even_for_the_right_password_until_the_window_ends(
    users: Ledger, clock: ManualClock
) -> None:
    _refuse(users, "bob", 4)
    assert login(users, "bob", PW["bob"], address="10.0.0.2", via="dashboard", config=CONFIG).name == "bob"
    _refuse(users, "bob", 4, address="10.0.0.3")  # the success started the name's budget afresh
    with pytest.raises(LockedOutError, match="too many refused logins"):
        login(users, "bob", "still-wrong", address="10.0.0.4", via="dashboard", config=CONFIG)
    for _ in range(3):  # locked: the right password is refused too, from anywhere
        with pytest.raises(LockedOutError):
            login(users, "bob", PW["bob"], address="10.0.0.5", via="dashboard", config=CONFIG)
    [locked] = users.audit_log(action="auth.lockout")
    assert locked.payload["user"] == "bob" and locked.payload["failures"] == 5
    assert len(LedgerOutbox(users).history(event_type="login_locked")) == 1, "notified once, not per attempt"
    assert len(users.audit_log(action="auth.failed")) == 9, "attempts during the lockout are not audited each"
    # another user's login is unaffected
    assert login(users, "carol", PW["carol"], address="10.0.0.6", via="dashboard", config=CONFIG).name == "carol"
    clock.advance(timedelta(minutes=14, seconds=59))
    with pytest.raises(LockedOutError):
        login(users, "bob", PW["bob"], address="10.0.0.5", via="dashboard", config=CONFIG)
    clock.advance(timedelta(seconds=2))
    assert login(users, "bob", PW["bob"], address="10.0.0.5", via="dashboard", config=CONFIG).name == "bob"


def test_refusals_older_than_the_window_do_not_count(users: Ledger, clock: ManualClock) -> None:
    _refuse(users, "bob", 4)
    clock.advance(timedelta(minutes=16))
    _refuse(users, "bob", 4)
    assert login(users, "bob", PW["bob"], address=None, via="cli", config=CONFIG).name == "bob"
    assert users.audit_log(action="auth.lockout") == []


def test_an_address_is_locked_across_names(users: Ledger) -> None:
    for name in ("alice", "bob", "carol", "alice", "bob"):  # no name reaches 5, the address does
        _refuse(users, name, 1, address="203.0.113.9")
    with pytest.raises(LockedOutError):
        login(users, "carol", PW["carol"], address="203.0.113.9", via="dashboard", config=CONFIG)
    assert login(users, "carol", PW["carol"], address="198.51.100.1", via="dashboard", config=CONFIG)
    [locked] = users.audit_log(action="auth.lockout")
    assert locked.payload["address"] == "203.0.113.9" and "user" not in locked.payload


def test_the_limits_come_from_the_auth_section(users: Ledger) -> None:
    config = AuthConfig.from_section({"max_failures": 2, "window_minutes": 1, "lockout_minutes": 60})
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            login(users, "bob", "wrong-password", address=None, via="cli", config=config)
    with pytest.raises(LockedOutError):
        login(users, "bob", PW["bob"], address=None, via="cli", config=config)
    with pytest.raises(ConfigError, match=r"\[auth\] max_attempts"):
        AuthConfig.from_section({"max_attempts": 3})


def test_an_unknown_name_is_audited_and_notified_as_unknown_user_never_with_the_typed_text(users: Ledger) -> None:
    typed = "s3cret-typed-into-the-name-box"
    _refuse(users, typed, 6)
    with pytest.raises(AuthenticationError):  # an invalid name is refused the same way, and stored nowhere
        login(users, "x" * 500 + "\n", "pw", address="10.9.9.9", via="dashboard", config=CONFIG)
    entries = users.audit_log()
    messages = LedgerOutbox(users).history(limit=1000)
    stored = json.dumps([e.payload for e in entries] + [e.actor for e in entries] + [m.payload for m in messages])
    assert typed not in stored and "xxxxxxxx" not in stored
    assert {e.payload["user"] for e in users.audit_log(action="auth.failed")} == {"unknown user"}
    assert any(m.event_type == "login_refused" and m.payload["user"] == "unknown user" for m in messages)


def test_user_names_are_validated_before_they_are_stored(users: Ledger) -> None:
    assert validate_username("dana.smith") == "dana.smith"
    for bad in ("", "a" * 129, "dana\nsmith", "dana\x1b[31m", "dana\u2028x"):
        with pytest.raises(IdentityError) as refused:
            validate_username(bad)
        assert bad not in str(refused.value) or bad == ""
        with pytest.raises(PromotionError):
            add_user(users, bad, "viewer", actor="alice")
    with pytest.raises(PromotionError, match="reserved"):
        add_user(users, "unknown user", "viewer", actor="alice")


def test_a_password_change_or_disabling_ends_sessions_and_disabled_users_may_not_act(users: Ledger) -> None:
    bob = login(users, "bob", PW["bob"], address=None, via="cli", config=CONFIG)
    assert session_user(users, "bob", role="trader", auth_epoch=bob.auth_epoch) is not None
    assert session_user(users, "bob", role="viewer", auth_epoch=bob.auth_epoch) is None, "another role: ended"
    set_password(users, "bob", "bob-new-passphrase", actor="bob")
    assert session_user(users, "bob", role="trader", auth_epoch=bob.auth_epoch) is None
    again = login(users, "bob", "bob-new-passphrase", address=None, via="cli", config=CONFIG)
    set_disabled(users, "bob", True, actor="alice")
    assert session_user(users, "bob", role="trader", auth_epoch=again.auth_epoch) is None
    with pytest.raises(PermissionDeniedError, match="disabled"):
        authorize(users, "bob", Action.HALT)
    with pytest.raises(AuthenticationError):
        login(users, "bob", "bob-new-passphrase", address=None, via="cli", config=CONFIG)
    set_disabled(users, "bob", False, actor="alice")
    assert session_user(users, "bob", role="trader", auth_epoch=again.auth_epoch) is None, "not revived"


def test_the_cli_password_checks_count_against_the_same_budget(
    users: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quantdesk.cli import _auth as cli_auth

    monkeypatch.setattr(cli_auth, "FAILED_LOGIN_DELAY_S", 0.0)
    monkeypatch.setenv("QUANTDESK_USER", "alice")
    _refuse(users, "bob", 3)  # three refused on a dashboard ...
    for _ in range(2):  # ... and two in the CLI
        monkeypatch.setattr("sys.stdin", io.StringIO("wrong-password\n"))
        with pytest.raises(AuthenticationError):
            cli_auth.acting_user(users, "bob", password_stdin=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["bob"] + "\n"))
    with pytest.raises(LockedOutError):
        cli_auth.acting_user(users, "bob", password_stdin=True)
    assert [e.payload["via"] for e in users.audit_log(action="auth.failed")][-2:] == ["cli", "cli"]
    set_disabled(users, "alice", True, actor="alice")

    with pytest.raises(PermissionDeniedError, match="disabled"):  # the default identity, disabled
        cli_auth.acting_user(users, None)
