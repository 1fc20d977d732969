"""Logins, throttled in the ledger: the one password check behind dashboard logins and the CLI.

Like django-axes and fail2ban: every refused login counts against the user's name and the
client's address; after `max_failures` refusals within `window_minutes`, that name (or address)
is locked for `lockout_minutes`, even with the right password. The counts live in the ledger
(`quantdesk.ledger.logins`), so every server process and the CLI share one budget, and the
ledger's clock decides when a lockout ends. The lockout is audited (`auth.lockout`, which is
also notified) once, when it starts; attempts during a lockout are refused without a password
check and without an audit entry each, so a flood costs neither argon2 time nor messages.

```toml
[auth]
max_failures = 5        # refused logins per name or address ...
window_minutes = 15     # ... within this long lock it ...
lockout_minutes = 15    # ... for this long
```

A typed name is validated (`validate_username`) before it is stored or sent anywhere; a name
that is not registered is audited and notified as "unknown user", never with the typed text
(it may be a password typed into the wrong box).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.core.errors import AuthenticationError, IdentityError
from quantdesk.core.sections import parse_section
from quantdesk.identity.names import MAX_USERNAME_LENGTH, UNKNOWN_USER, validate_username
from quantdesk.identity.users import User, authenticate, lookup_user
from quantdesk.ledger import Ledger
from quantdesk.ledger.logins import (
    Lockout,
    LoginKey,
    active_lockouts,
    clear_failures,
    record_refusal,
)

__all__ = [
    "MAX_USERNAME_LENGTH",
    "UNKNOWN_USER",
    "AuthConfig",
    "LockedOutError",
    "audit_name",
    "login",
    "validate_username",
]



class LockedOutError(AuthenticationError):
    """Too many refused logins for a name or an address: refused until the lockout ends."""


class AuthConfig(BaseModel):
    """`[auth]` of quantdesk.toml: the login throttle; every key has a default, an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_failures: int = Field(default=5, ge=1)
    window_minutes: float = Field(default=15.0, gt=0)
    lockout_minutes: float = Field(default=15.0, gt=0)

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> AuthConfig:
        """Return the config of an `[auth]` section; ConfigError naming the bad key."""
        return parse_section(cls, section, "auth", "keys: max_failures, window_minutes, lockout_minutes")

    @classmethod
    def from_settings(cls) -> AuthConfig:
        """Return the config from quantdesk.toml's `[auth]` (defaults where absent)."""
        from quantdesk.core.settings import get_settings

        return cls.from_section(get_settings().auth)


def audit_name(ledger: Ledger, typed: str) -> str:
    """Return what the audit log may say for a typed name: the name if registered, else "unknown user"."""
    try:
        validate_username(typed)
    except IdentityError:
        return UNKNOWN_USER
    return typed if lookup_user(ledger, typed) is not None else UNKNOWN_USER


def _lock_message(lockouts: list[Lockout]) -> str:
    until = max(lock.until for lock in lockouts)
    return (f"too many refused logins: try again after {until:%H:%M} UTC "
            "(an admin can see the attempts with `quantdesk audit log --action auth.lockout`)")


def login(
    ledger: Ledger,
    typed_name: str,
    password: str,
    *,
    address: str | None,
    via: str,
    actor: str | None = None,
    config: AuthConfig | None = None,
) -> User:
    """Return the user if `password` is theirs, they are enabled and neither name nor address is locked out.

    Otherwise raise AuthenticationError (LockedOutError for a lockout). A refused login is audited
    as `auth.failed` (by `actor`, default the door `via`) with the name, or "unknown user".
    Blocking: argon2 and ledger writes; an event loop calls this in an executor.
    """
    config = config or AuthConfig.from_settings()
    name = audit_name(ledger, typed_name)
    keys: list[LoginKey] = [("user", name)]
    if address:
        keys.append(("address", address[:MAX_USERNAME_LENGTH]))
    now = ledger._now()
    running = active_lockouts(ledger, keys, now=now)
    if running:
        raise LockedOutError(_lock_message(running))
    try:
        # "" for an unknown name: still one password check's time, so unknown names answer no faster
        user = authenticate(ledger, "" if name == UNKNOWN_USER else name, password)
    except AuthenticationError:
        payload: dict[str, Any] = {"user": name, "via": via}
        if address:
            payload["address"] = keys[-1][1]

        def lock_audit(lock: Lockout, count: int) -> tuple[str, str, dict[str, Any]]:
            return (actor or via, "auth.lockout", {lock.kind: lock.key, "via": via, "failures": count,
                                                   "until": lock.until.isoformat(timespec="seconds")})

        started = record_refusal(
            ledger, keys, now=now, window=timedelta(minutes=config.window_minutes),
            max_failures=config.max_failures, lockout=timedelta(minutes=config.lockout_minutes),
            audit=(actor or via, "auth.failed", payload), lock_audit=lock_audit)
        if started:
            raise LockedOutError(_lock_message(started)) from None
        raise
    clear_failures(ledger, keys[:1])  # the name's budget starts afresh; the address's does not
    return user
