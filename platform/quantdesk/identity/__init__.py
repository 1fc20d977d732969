"""Identity: users, roles, passwords (argon2id) and authentication, on the ledger's `users` table.

    from quantdesk.identity import Action, authenticate, authorize
    user = authenticate(ledger, "carol", password)      # AuthenticationError if refused
    authorize(ledger, "carol", Action.DECIDE_LIVE)       # PermissionDeniedError (audited) if her role may not
"""

from quantdesk.identity.keys import (
    ExchangeKeyInfo,
    exchange_credentials,
    list_exchange_keys,
    rotate_master_key,
    set_exchange_key,
)
from quantdesk.identity.logins import AuthConfig, LockedOutError, login, validate_username
from quantdesk.identity.passwords import check_password_policy, hash_password, verify_password
from quantdesk.identity.policy import POLICY, Action, Rule, Scope, authorize, may, roles_for
from quantdesk.identity.users import (
    Role,
    User,
    active_user,
    add_user,
    authenticate,
    get_user,
    list_users,
    lookup_user,
    resolve_actor,
    session_user,
    set_disabled,
    set_password,
)

__all__ = [
    "Action",
    "AuthConfig",
    "LockedOutError",
    "ExchangeKeyInfo",
    "POLICY",
    "Role",
    "Rule",
    "Scope",
    "User",
    "active_user",
    "add_user",
    "authenticate",
    "authorize",
    "check_password_policy",
    "exchange_credentials",
    "get_user",
    "hash_password",
    "list_exchange_keys",
    "list_users",
    "login",
    "lookup_user",
    "may",
    "resolve_actor",
    "roles_for",
    "rotate_master_key",
    "set_disabled",
    "set_exchange_key",
    "session_user",
    "set_password",
    "validate_username",
    "verify_password",
]
