"""Users and roles, kept simple: admin, trader, researcher, viewer.

| role       | may                                                                 |
|------------|---------------------------------------------------------------------|
| admin      | everything, including adding users                                  |
| trader     | promote to paper and live, approve live promotions, retire          |
| researcher | promote to paper (research -> paper), retire their own research     |
| viewer     | read only                                                           |

The acting user comes from `--as`, else `QUANTDESK_USER`, else the OS login name. While
the ledger has no users yet, anyone may add the first one, and it must be an admin.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quantdesk.core.errors import PromotionError
from quantdesk.ledger import Ledger
from quantdesk.ledger.registry import upsert_user, user_row, user_rows

__all__ = ["Permission", "Role", "User", "add_user", "get_user", "list_users", "require", "resolve_actor"]


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"
    RESEARCHER = "researcher"
    VIEWER = "viewer"


class Permission(StrEnum):
    PROMOTE_PAPER = "promote to paper"
    PROMOTE_LIVE = "promote to live"
    APPROVE = "approve a live promotion"
    RETIRE = "retire a deployment"
    OPERATE = "start or stop a deployment"
    MANAGE_USERS = "add users"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.TRADER: frozenset(
        {Permission.PROMOTE_PAPER, Permission.PROMOTE_LIVE, Permission.APPROVE, Permission.RETIRE, Permission.OPERATE}
    ),
    Role.RESEARCHER: frozenset({Permission.PROMOTE_PAPER, Permission.RETIRE}),
    Role.VIEWER: frozenset(),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person who acts on deployments, with one role."""

    name: str
    role: Role
    created_by: str
    created_at: datetime

    def may(self, permission: Permission) -> bool:
        """Return True when the user's role grants `permission`."""
        return permission in _GRANTS[self.role]


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
    return User(name=row["name"], role=Role(row["role"]), created_by=row["created_by"], created_at=row["created_at"])


def get_user(ledger: Ledger, name: str) -> User:
    """Return the user `name`; PromotionError saying how to add them if unknown."""
    row = user_row(ledger, name)
    if row is None:
        raise PromotionError(
            f"user {name!r} is not registered: an admin adds them with `quantdesk user add {name} --role ROLE` "
            "(act as someone else with --as or QUANTDESK_USER)"
        )
    return _user(row)


def list_users(ledger: Ledger) -> list[User]:
    """Return every user, by name."""
    return [_user(r) for r in user_rows(ledger)]


def require(ledger: Ledger, actor: str, permission: Permission) -> User:
    """Return the user `actor` if their role grants `permission`, else raise PromotionError."""
    user = get_user(ledger, actor)
    if not user.may(permission):
        allowed = sorted(r.value for r, grants in _GRANTS.items() if permission in grants)
        raise PromotionError(
            f"user {actor!r} has role {user.role.value}, which may not {permission.value}; "
            f"that needs one of: {', '.join(allowed)}"
        )
    return user


def add_user(ledger: Ledger, name: str, role: Role | str, *, actor: str) -> User:
    """Add the user `name` with `role` (or change their role); only an admin may, except the first admin."""
    try:
        role_ = Role(role)
    except ValueError:
        raise PromotionError(
            f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None
    if not name or len(name) > 128:
        raise PromotionError(f"user name must be 1-128 characters, got {name!r}")
    if user_rows(ledger):
        require(ledger, actor, Permission.MANAGE_USERS)
    elif role_ is not Role.ADMIN:
        raise PromotionError(
            f"the ledger has no users yet: add an admin first (`quantdesk user add {actor} --role admin`)"
        )
    row = upsert_user(
        ledger, name, role_.value, actor, audit=(actor, "user.add", {"user": name, "role": role_.value})
    )
    return _user(row)
