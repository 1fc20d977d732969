"""Users with passwords: argon2id hashes only, authenticate refuses wrong, unknown and disabled users."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quantdesk.core.errors import AuthenticationError, IdentityError, PermissionDeniedError
from quantdesk.identity import add_user, authenticate, set_disabled, set_password
from quantdesk.ledger import Ledger
from quantdesk.ledger.schema import audit_log, users

PASSWORD = "correct horse battery"


@pytest.fixture
def ledger() -> Ledger:
    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice", password=PASSWORD)
        add_user(ledger, "bob", "viewer", actor="alice", password="bob-password-1")
        yield ledger


def test_only_a_hash_is_stored(ledger: Ledger) -> None:
    with ledger.engine.connect() as c:
        stored = c.execute(select(users.c.password_hash).where(users.c.name == "alice")).scalar_one()
        audit = " ".join(r.payload for r in c.execute(select(audit_log)).all())
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD not in audit


def test_authenticate_accepts_the_right_password_only(ledger: Ledger) -> None:
    assert authenticate(ledger, "alice", PASSWORD).role.value == "admin"
    for name, password in [("alice", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD)]:
        with pytest.raises(AuthenticationError, match="login refused"):
            authenticate(ledger, name, password)


def test_disabled_users_cannot_log_in_and_only_admins_disable(ledger: Ledger) -> None:
    with pytest.raises(PermissionDeniedError, match="administer users needs the role admin"):
        set_disabled(ledger, "alice", True, actor="bob")
    set_disabled(ledger, "bob", True, actor="alice")
    with pytest.raises(AuthenticationError):
        authenticate(ledger, "bob", "bob-password-1")
    set_disabled(ledger, "bob", False, actor="alice")
    assert authenticate(ledger, "bob", "bob-password-1").name == "bob"


def test_users_change_their_own_password_and_weak_ones_are_refused(ledger: Ledger) -> None:
    set_password(ledger, "bob", "new-bob-password", actor="bob")
    assert authenticate(ledger, "bob", "new-bob-password").name == "bob"
    with pytest.raises(PermissionDeniedError, match="administer users needs the role admin"):
        set_password(ledger, "alice", "taken-over-123", actor="bob")
    with pytest.raises(IdentityError, match="at least 8"):
        set_password(ledger, "bob", "short", actor="bob")
