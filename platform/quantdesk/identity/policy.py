"""Who may do what: the one authorization table every door asks (CLI, pages, API, flows).

Each `Action` maps to the roles that may take it and to the narrowest API token scope
that carries it. No door decides roles on its own: it calls `authorize(...)` (which proves
the actor is a registered, active user with a role the table names, and audits a refusal)
or, only to hide a button it would refuse anyway, `may(role, action)`.

Like Django's permission model, the table is data: `quantdesk user roles` prints it and the
README shows it, so what the code enforces and what people read are the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from quantdesk.core.errors import PermissionDeniedError
from quantdesk.core.types import TradingState

if TYPE_CHECKING:
    from quantdesk.identity.users import User
    from quantdesk.ledger import Ledger

__all__ = [
    "POLICY",
    "AUTOMATIC_ACTORS",
    "Action",
    "PermissionDeniedError",
    "Role",
    "Rule",
    "Scope",
    "authorize",
    "may",
    "policy_rows",
    "resume_action",
    "roles_for",
]


class Scope(StrEnum):
    """An API token's ceiling: a token acts as its user with at most this scope."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


class Action(StrEnum):
    """Everything a person (or a program on their behalf) can ask the desk to do."""

    VIEW = "view the desk"
    VIEW_AUDIT = "read the audit log"
    HALT = "halt trading"
    RESUME = "resume trading"
    RESUME_AFTER_LOSS_HALT = "resume after an automatic loss-limit or drawdown halt"
    ORDER = "place a manual order"
    CANCEL = "cancel an order"
    RECONCILE = "reconcile a venue"
    PROMOTE_PAPER = "promote to paper"
    PROMOTE_LIVE = "request promotion to live"
    DECIDE_LIVE = "approve or reject a live promotion"
    CREATE_DEPLOYMENT = "create a deployment"
    RETIRE_DEPLOYMENT = "retire a deployment"
    RUN_DEPLOYMENT = "start or stop a deployment"
    MANAGE_USERS = "administer users"
    MANAGE_KEYS = "store exchange keys"
    ROTATE_MASTER_KEY = "rotate the master key"
    MANAGE_CHANNELS = "manage notification channels and others' subscriptions"
    SEND_TEST_NOTIFICATION = "send a test notification"
    EXPORT = "export desk data"
    RUN_FLOWS = "run or deploy flows"
    MANAGE_API_TOKENS = "create or revoke API tokens"


class Role(StrEnum):
    """A user's one role on the desk."""

    ADMIN = "admin"
    TRADER = "trader"
    RESEARCHER = "researcher"
    VIEWER = "viewer"


_ALL = frozenset(Role)
_TRADING = frozenset({Role.ADMIN, Role.TRADER})
_ADMIN = frozenset({Role.ADMIN})
_RESEARCH = frozenset({Role.ADMIN, Role.TRADER, Role.RESEARCHER})


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One row of the policy: which roles may take the action, and the token scope it needs."""

    roles: frozenset[Role]
    scope: Scope
    proof: bool = False  # the CLI asks for the actor's password even without --as


_TABLE: dict[Action, Rule] = {
    Action.VIEW: Rule(roles=_ALL, scope=Scope.READ),
    Action.VIEW_AUDIT: Rule(roles=_ADMIN, scope=Scope.READ),
    # A kill switch must be quick: no password, but only someone who may trade.
    Action.HALT: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.RESUME: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.RESUME_AFTER_LOSS_HALT: Rule(roles=_ADMIN, scope=Scope.ADMIN),
    Action.ORDER: Rule(roles=_TRADING, scope=Scope.TRADE, proof=True),
    Action.CANCEL: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.RECONCILE: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.PROMOTE_PAPER: Rule(roles=_RESEARCH, scope=Scope.TRADE),
    Action.PROMOTE_LIVE: Rule(roles=_TRADING, scope=Scope.TRADE, proof=True),
    Action.DECIDE_LIVE: Rule(roles=_TRADING, scope=Scope.TRADE, proof=True),
    Action.CREATE_DEPLOYMENT: Rule(roles=_RESEARCH, scope=Scope.TRADE),
    Action.RETIRE_DEPLOYMENT: Rule(roles=_RESEARCH, scope=Scope.TRADE),
    Action.RUN_DEPLOYMENT: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.MANAGE_USERS: Rule(roles=_ADMIN, scope=Scope.ADMIN, proof=True),
    Action.MANAGE_KEYS: Rule(roles=_TRADING, scope=Scope.ADMIN, proof=True),
    Action.ROTATE_MASTER_KEY: Rule(roles=_ADMIN, scope=Scope.ADMIN, proof=True),
    Action.MANAGE_CHANNELS: Rule(roles=_ADMIN, scope=Scope.ADMIN, proof=True),
    Action.SEND_TEST_NOTIFICATION: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.EXPORT: Rule(roles=_RESEARCH, scope=Scope.READ),
    Action.RUN_FLOWS: Rule(roles=_TRADING, scope=Scope.TRADE),
    Action.MANAGE_API_TOKENS: Rule(roles=_ADMIN, scope=Scope.ADMIN, proof=True),
}

POLICY: Mapping[Action, Rule] = MappingProxyType(_TABLE)


# Who halts without a person: the risk gate's daily-loss and drawdown limits. Resuming what
# they stopped is an admin's decision (the loss is real), not any trader's.
AUTOMATIC_ACTORS = frozenset({"risk-gate"})


def resume_action(ledger: Ledger, scope: str = "global") -> Action:
    """Return the action a resume of `scope` is: RESUME_AFTER_LOSS_HALT when an automatic rule stopped it.

    The one place this is decided; the CLI, the pages and the API all ask it.
    """
    previous = ledger.trading_state(scope)
    if TradingState(previous.state) is not TradingState.ACTIVE and previous.actor in AUTOMATIC_ACTORS:
        return Action.RESUME_AFTER_LOSS_HALT
    return Action.RESUME


def policy_rows() -> list[dict[str, object]]:
    """Return the table as rows (`quantdesk user roles`, the README): action, what it is, roles, scope, proof."""
    return [
        {"action": action.name.lower(), "description": action.value,
         "roles": [role.value for role in Role if role in rule.roles],  # admin first, as people read roles
         "token_scope": rule.scope.value, "password": rule.proof}
        for action, rule in POLICY.items()
    ]


def roles_for(action: Action) -> list[str]:
    """Return the roles that may take `action`, sorted."""
    return sorted(POLICY[action].roles)


def _either(names: list[str]) -> str:
    """'admin', 'admin or trader', 'admin, researcher or trader'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def may(role: Role | str, action: Action) -> bool:
    """Return True when `role` may take `action` (for hiding a control; doors call `authorize`)."""
    return Role(role) in POLICY[action].roles


def authorize(ledger: Ledger, actor: str, action: Action, *, via: str = "cli") -> User:
    """Return the user `actor` if they are registered, active and their role may take `action`.

    Otherwise audit the refusal (`auth.denied`, with the action and the door it came through)
    and raise PermissionDeniedError naming the roles that may.
    """
    from quantdesk.identity.users import lookup_user

    user = lookup_user(ledger, actor)
    if user is None:
        code, reason = "unregistered", f"{actor!r} is not a registered user"
    elif user.disabled:
        code, reason = "disabled", f"user {actor!r} is disabled"
    elif not may(user.role.value, action):
        code, reason = "role", f"user {actor!r} has role {user.role.value}"
    else:
        return user
    # An unregistered name is whatever somebody typed: it never enters the audit log.
    ledger.audit(
        "unknown user" if user is None else actor,
        "auth.denied",
        {"action": action.name.lower(), "via": via, "reason": code},
    )
    raise PermissionDeniedError(
        f"{reason}: {action.value} needs the role {_either(roles_for(action))}"
        + (" (an admin adds users with `quantdesk user add NAME --role ROLE`)" if user is None else "")
    )
