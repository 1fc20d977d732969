"""HTTP API tokens: created for a user with a scope, shown once, stored as a hash, revocable.

A token reads `qdt_XXXXXXXX_SECRET`: the first 12 characters are its prefix, stored and shown
to recognise it (`quantdesk api token list`, the audit log); the ledger keeps only the token's
SHA-256, so a copy of the database holds no usable token. A token acts as its user with at
most its scope (`Scope`: read < trade < admin) and never beyond the user's role: the policy
(`quantdesk.identity.policy`) decides each request for the user, so a disabled user's tokens
stop with the next request.

    token, info = create_token(ledger, user="carol", scope="trade", expires="30d", actor="ops")
    check = verify_token(ledger, token)          # TokenRefusedError (401) if missing, unknown, expired, revoked
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantdesk.core.clock import ensure_utc
from quantdesk.core.errors import AuthenticationError, IdentityError
from quantdesk.identity.policy import Scope
from quantdesk.ledger import Ledger
from quantdesk.ledger.api_rows import (
    ApiTokenRow,
    insert_api_token,
    revoke_api_token,
    token_by_prefix,
    token_rows,
)

__all__ = [
    "ApiToken",
    "TokenRefusedError",
    "create_token",
    "list_tokens",
    "parse_expiry",
    "revoke_token",
    "scope_covers",
    "token_prefix",
    "verify_token",
]

_TOKEN_RE = re.compile(r"^(qdt_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$")
_ALPHABET = string.ascii_letters + string.digits
_DURATION_RE = re.compile(r"^(\d{1,5})([mhdw])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_RANK = {Scope.READ: 0, Scope.TRADE: 1, Scope.ADMIN: 2}


class TokenRefusedError(AuthenticationError):
    """A request's token is missing, malformed, unknown, expired or revoked (HTTP 401).

    `reason` is one of those words; `prefix` names the token when it had a recognisable one, and
    `user` its owner when the token is a stored one (expired or revoked).
    """

    def __init__(self, message: str, *, reason: str, prefix: str | None = None, user: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.prefix = prefix
        self.user = user


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A stored token as people see it: prefix, user, scope, expiry, last use; never the token."""

    prefix: str
    user: str
    scope: Scope
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """Return `active`, `expired` or `revoked` at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _info(row: ApiTokenRow) -> ApiToken:
    return ApiToken(prefix=row.prefix, user=row.user, scope=Scope(row.scope), created_by=row.created_by,
                    created_at=row.created_at, expires_at=row.expires_at, last_used_at=row.last_used_at,
                    revoked_at=row.revoked_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str | None:
    """Return the prefix of a well-formed token, else None (a malformed one names nothing)."""
    found = _TOKEN_RE.match(token)
    return found.group(1) if found else None


def scope_covers(have: Scope | str, need: Scope | str) -> bool:
    """Return True when a token of scope `have` carries an action that needs scope `need`."""
    return _RANK[Scope(have)] >= _RANK[Scope(need)]


def parse_expiry(text: str | None, now: datetime) -> datetime | None:
    """Return when a token made at `now` expires: `30d`, `12h`, `90m`, `2w`, or None for `never`."""
    if text is None or text.strip().lower() == "never":
        return None
    found = _DURATION_RE.match(text.strip().lower())
    if not found or int(found.group(1)) == 0:
        raise IdentityError(f"bad expiry {text!r}: use a number and a unit, e.g. 30d, 12h, 90m, 2w, or 'never'")
    return now + int(found.group(1)) * _UNIT[found.group(2)]


def create_token(ledger: Ledger, *, user: str, scope: Scope | str, expires: str | None, actor: str
                 ) -> tuple[str, ApiToken]:
    """Create a token for `user` with `scope`; return (the token, to show once, and its record).

    `actor` must already be authorized (`Action.MANAGE_API_TOKENS`); the creation is audited
    with the prefix. IdentityError for an unknown or disabled user or a bad scope or expiry.
    """
    from quantdesk.identity.users import get_user

    try:
        scope_value = Scope(str(scope).lower())
    except ValueError:
        raise IdentityError(f"bad scope {scope!r}: use read, trade or admin") from None
    owner = get_user(ledger, user)
    if owner.disabled:
        raise IdentityError(f"user {user!r} is disabled: enable them first (`quantdesk user enable {user}`)")
    now = ledger._now()
    expires_at = parse_expiry(expires, now)
    prefix = "qdt_" + "".join(secrets.choice(_ALPHABET) for _ in range(8))
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = insert_api_token(ledger, dict(
        prefix=prefix, token_hash=_digest(token), user=owner.name, scope=scope_value.value, created_by=actor,
        created_at=now, expires_at=expires_at, last_used_at=None, revoked_at=None, revoked_by=None,
    ), audit=(actor, "api.token_created", {"prefix": prefix, "user": owner.name, "scope": scope_value.value,
                                            "expires_at": None if expires_at is None else expires_at.isoformat()}))
    return token, _info(row)


def verify_token(ledger: Ledger, token: str | None, *, now: datetime | None = None) -> ApiToken:
    """Return the record of a valid `token`; raise TokenRefusedError saying why it is refused.

    Only the token's validity is checked here; what its user may do is the policy's question.
    """
    if not token:
        raise TokenRefusedError("no API token: send `Authorization: Bearer TOKEN` (an admin creates one with "
                                "`quantdesk api token create`)", reason="missing")
    prefix = token_prefix(token)
    if prefix is None:
        raise TokenRefusedError("the API token is malformed: it looks like qdt_XXXXXXXX_... as printed by "
                                "`quantdesk api token create`", reason="malformed")
    row = token_by_prefix(ledger, prefix)
    if row is None or not hmac.compare_digest(row.token_hash, _digest(token)):
        raise TokenRefusedError(f"API token {prefix} is not known: ask an admin for a token "
                                "(`quantdesk api token create`)", reason="unknown", prefix=prefix)
    info = _info(row)
    state = info.state(ensure_utc(now) if now is not None else ledger._now())
    if state == "revoked":
        raise TokenRefusedError(f"API token {prefix} was revoked at {_when(info.revoked_at)}: ask an admin for a "
                                "new one", reason="revoked", prefix=prefix, user=info.user)
    if state == "expired":
        raise TokenRefusedError(f"API token {prefix} expired at {_when(info.expires_at)}: ask an admin for a "
                                "new one", reason="expired", prefix=prefix, user=info.user)
    return info


def _when(ts: datetime | None) -> str:
    return "" if ts is None else ts.isoformat(timespec="seconds").replace("+00:00", "Z")


def list_tokens(ledger: Ledger, *, user: str | None = None) -> list[ApiToken]:
    """Return every token's record (of `user`, when given), oldest first."""
    return [_info(r) for r in token_rows(ledger, user=user)]


def revoke_token(ledger: Ledger, prefix: str, *, actor: str) -> ApiToken:
    """Revoke the token with `prefix` (its next request is refused); audited. IdentityError if unknown."""
    prefix = prefix.strip()
    row = token_by_prefix(ledger, prefix)
    if row is None:
        raise IdentityError(f"no API token with prefix {prefix!r}: list them with `quantdesk api token list`")
    done = revoke_api_token(ledger, prefix, at=ledger._now(), by=actor,
                            audit=(actor, "api.token_revoked", {"prefix": prefix, "user": row.user}))
    assert done is not None  # found above; tokens are never deleted
    return _info(done)
