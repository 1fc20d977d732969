"""Users, roles and passwords: admin, trader, researcher, viewer.

What each role may do is `quantdesk.identity.policy` (the one table; `quantdesk user roles`).

The acting user comes from `--as`, else `QUANTDESK_USER`, else the OS login name. While
the ledger has no users yet, anyone may add the first one, and it must be an admin.
Passwords are stored as argon2id hashes (`quantdesk.identity.passwords`); `authenticate`
is the one check behind dashboard logins and CLI actions taken as a named user.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime

from quantdesk.core.errors import (
    AuthenticationError,
    IdentityError,
    PermissionDeniedError,
    PromotionError,
)
from quantdesk.identity.passwords import hash_password, needs_rehash, verify_password
from quantdesk.identity.policy import Action, Role, authorize, may
from quantdesk.ledger import Ledger
from quantdesk.ledger.registry import update_user, upsert_user, user_row, user_rows

__all__ = [
    "Role",
    "User",
    "active_user",
    "add_user",
    "authenticate",
    "get_user",
    "list_users",
    "lookup_user",
    "resolve_actor",
    "session_user",
    "set_disabled",
    "set_password",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person who acts on deployments, with one role."""

    name: str
    role: Role
    created_by: str
    created_at: datetime
    disabled: bool = False
    has_password: bool = False
    # bumped by every password change and disable/enable: a session signed with another value has ended
    auth_epoch: int = 0

    def may(self, action: Action) -> bool:
        """Return True when this user is active and the policy lets their role take `action` (to hide a control)."""
        return not self.disabled and may(self.role, action)


def resolve_actor(explicit: str | None = None) -> str:
    """Return the acting user's name: `explicit` (--as), else QUANTDESK_USER, else the OS login."""
    if explicit:
        return explicit
    env = os.environ.get("QUANTDESK_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # containers without a login name
        return "unknown"


def _user(row: dict) -> User:
    return User(
        name=row["name"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        disabled=bool(row.get("disabled")),
        has_password=bool(row.get("password_hash")),
        auth_epoch=int(row.get("auth_epoch") or 0),
    )


def get_user(ledger: Ledger, name: str) -> User:
    """Return the user `name`; PromotionError saying how to add them if unknown."""
    row = user_row(ledger, name)
    if row is None:
        raise PromotionError(
            f"user {name!r} is not registered: an admin adds them with `quantdesk user add {name} --role ROLE` "
            "(act as someone else with --as or QUANTDESK_USER)"
        )
    return _user(row)


def lookup_user(ledger: Ledger, name: str) -> User | None:
    """Return the user `name`, or None when no such user is registered."""
    row = user_row(ledger, name) if name else None
    return None if row is None else _user(row)


def list_users(ledger: Ledger) -> list[User]:
    """Return every user, by name."""
    return [_user(r) for r in user_rows(ledger)]


def active_user(ledger: Ledger, name: str) -> User:
    """Return the registered, enabled user `name`; PermissionDeniedError for an unknown or disabled one.

    The identity check every door starts with (`policy.authorize`, dashboard sessions, the CLI).
    """
    user = lookup_user(ledger, name)
    if user is None:
        raise PermissionDeniedError(
            f"{name!r} is not a registered user: an admin adds them with `quantdesk user add NAME --role ROLE`"
        )
    if user.disabled:
        raise PermissionDeniedError(f"user {name!r} is disabled: an admin re-enables them with `quantdesk user enable {name}`")
    return user


def session_user(ledger: Ledger, name: str, *, role: str, auth_epoch: int) -> User | None:
    """Return the user of a session that logged in as `name` with `role` at `auth_epoch`, if it still holds.

    None when the user is gone, disabled, has another role, or changed password (or was disabled
    and enabled again) since: the session has ended and must log in again.
    """
    user = lookup_user(ledger, name)
    if user is None or user.disabled or user.role.value != role or user.auth_epoch != auth_epoch:
        return None
    return user


def add_user(
    ledger: Ledger, name: str, role: Role | str, *, actor: str, password: str | None = None
) -> User:
    """Add the user `name` with `role` (or change their role); only an admin may, except the first admin.

    With `password` the user can log in to the dashboards and act as themselves in the CLI.
    """
    try:
        role_ = Role(role)
    except ValueError:
        raise PromotionError(
            f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None
    from quantdesk.identity.names import UNKNOWN_USER, validate_username

    try:
        validate_username(name)
    except IdentityError as e:
        raise PromotionError(str(e)) from None
    if name == UNKNOWN_USER:
        raise PromotionError(f"{UNKNOWN_USER!r} is reserved: the audit log's name for unregistered ones")
    if user_rows(ledger):
        authorize(ledger, actor, Action.MANAGE_USERS)
    elif role_ is not Role.ADMIN:
        raise PromotionError(
            f"the ledger has no users yet: add an admin first (`quantdesk user add {actor} --role admin`)"
        )
    password_hash = hash_password(password) if password is not None else None
    row = upsert_user(
        ledger, name, role_.value, actor, audit=(actor, "user.add", {"user": name, "role": role_.value})
    )
    if password_hash is not None:
        row = update_user(
            ledger, name, {"password_hash": password_hash}, audit=(actor, "user.password", {"user": name})
        )
    return _user(row)


def set_password(ledger: Ledger, name: str, password: str, *, actor: str) -> User:
    """Set `name`'s password (stored as an argon2id hash); the user themselves or an admin may."""
    if actor != name:
        authorize(ledger, actor, Action.MANAGE_USERS)
    user = get_user(ledger, name)
    # a new epoch ends every session that logged in with the old password
    row = update_user(
        ledger, name, {"password_hash": hash_password(password), "auth_epoch": user.auth_epoch + 1},
        audit=(actor, "user.password", {"user": name}),
    )
    return _user(row)


def set_disabled(ledger: Ledger, name: str, disabled: bool, *, actor: str) -> User:
    """Disable (or re-enable) `name`: a disabled user can neither log in nor act. Admins only."""
    authorize(ledger, actor, Action.MANAGE_USERS)
    user = get_user(ledger, name)
    action = "user.disable" if disabled else "user.enable"
    # a new epoch ends the user's open sessions (and re-enabling does not revive the old ones)
    row = update_user(ledger, name, {"disabled": disabled, "auth_epoch": user.auth_epoch + 1},
                      audit=(actor, action, {"user": name}))
    return _user(row)


def authenticate(ledger: Ledger, name: str, password: str) -> User:
    """Return the user `name` if `password` is theirs and they are enabled, else AuthenticationError.

    The error does not say whether the name or the password was wrong. Callers audit failures
    and slow repeated attempts down (the dashboards' login handler, the CLI's `--as`).
    """
    row = user_row(ledger, name) if name else None
    ok = verify_password(row.get("password_hash") if row else None, password)
    if row is None or not ok or row.get("disabled"):
        raise AuthenticationError(f"login refused for {name!r}: unknown user, wrong password or disabled")
    if needs_rehash(row["password_hash"]):
        update_user(ledger, name, {"password_hash": hash_password(password)})
    return _user(row)
