"""Who is calling and may they: the one check every route passes (`allow(action)` or `permit`).

A request carries `Authorization: Bearer TOKEN`. The token must be valid (`verify_token`:
401 when missing, malformed, unknown, expired or revoked), within its rate limit (429), its
scope must carry the action (`POLICY[action].scope`, else 403), and the policy must let the
token's user take the action (`authorize(..., via="api")`: registered, enabled, a role that
may; else 403 with the policy's reason). Both checks run on every request, so a revoked token
or a disabled user stops with the next request. Every 401 and 403 is audited as `api.refused`
with the token's prefix (never the token); the policy audits its own refusals as `auth.denied`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from quantdesk.api.errors import ApiError
from quantdesk.api.limits import retry_after
from quantdesk.core.errors import PermissionDeniedError
from quantdesk.identity.policy import POLICY, Action, Scope, authorize
from quantdesk.identity.tokens import ApiToken, TokenRefusedError, scope_covers, verify_token
from quantdesk.ledger.api_rows import touch_api_token

if TYPE_CHECKING:
    from quantdesk.api.context import ApiContext

__all__ = ["Caller", "Token", "allow", "context", "permit", "recheck"]

_bearer = HTTPBearer(auto_error=False, bearerFormat="qdt_XXXXXXXX_SECRET",
                     description="A token from `quantdesk api token create`")
_TOUCH_EVERY_S = 60.0  # `last use` is written at most this often per token (not on every read)


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """The user a request acts as, through which token (its prefix) and with which scope."""

    user: str
    role: str
    scope: Scope
    prefix: str


def context(request: Request) -> ApiContext:
    """Return the API's shared state (ledger, limits, brokers, events)."""
    return request.app.state.desk  # type: ignore[no-any-return]


def _refuse(ctx: ApiContext, request: Request, status: int, code: str, message: str, *, actor: str,
            reason: str, prefix: str | None, action: Action | None) -> ApiError:
    ctx.ledger.audit(actor, "api.refused", {
        "status": status, "reason": reason, "token": prefix, "action": None if action is None else action.name.lower(),
        "method": request.method, "path": request.url.path[:200],
    })
    return ApiError(status, code, message)


class _LastUse:
    """Write a token's `last use` at most once a minute (a read per request, a write per minute)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[str, float] = {}

    def due(self, prefix: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._written.get(prefix, -_TOUCH_EVERY_S) < _TOUCH_EVERY_S:
                return False
            self._written[prefix] = now
            return True


LAST_USE = _LastUse()


def _token(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
           ctx: Annotated[Any, Depends(context)]) -> ApiToken:
    """Return the request's valid token (401 otherwise), once its rate limit allows (429 otherwise)."""
    try:
        token = verify_token(ctx.ledger, credentials.credentials if credentials is not None else None)
    except TokenRefusedError as e:
        raise _refuse(ctx, request, 401, "unauthorized", str(e), actor=e.user or "unknown user", reason=e.reason,
                      prefix=e.prefix, action=None) from None
    wait = ctx.token_buckets.take(token.prefix)
    if wait:
        raise ApiError(429, "rate_limited", f"token {token.prefix} is over its rate limit: retry after "
                       f"{retry_after(wait)} s", headers={"Retry-After": retry_after(wait)})
    if LAST_USE.due(token.prefix):
        touch_api_token(ctx.ledger, token.prefix, ctx.ledger._now())
    request.state.token_prefix = token.prefix
    return token


Token = Annotated[ApiToken, Depends(_token)]


def permit(ctx: ApiContext, request: Request, token: ApiToken, action: Action) -> Caller:
    """Return the caller when `token` may take `action`: its scope carries it and the policy lets its user.

    Raise ApiError 403 (audited) otherwise, with the scope's or the policy's reason.
    """
    rule = POLICY[action]
    if not scope_covers(token.scope, rule.scope):
        raise _refuse(ctx, request, 403, "forbidden",
                      f"token {token.prefix} has scope {token.scope.value}: {action.value} needs scope "
                      f"{rule.scope.value} (an admin creates one with `quantdesk api token create --scope "
                      f"{rule.scope.value}`)", actor=token.user, reason="scope", prefix=token.prefix, action=action)
    try:
        user = authorize(ctx.ledger, token.user, action, via="api")
    except PermissionDeniedError as e:
        raise _refuse(ctx, request, 403, "forbidden", str(e), actor=token.user, reason="policy",
                      prefix=token.prefix, action=action) from None
    return Caller(user=user.name, role=user.role.value, scope=token.scope, prefix=token.prefix)


def allow(action: Action) -> Any:
    """Return a dependency that answers the route's caller once `permit` lets them take `action`."""

    def dependency(request: Request, token: Token, ctx: Annotated[Any, Depends(context)]) -> Caller:
        return permit(ctx, request, token, action)

    dependency.__name__ = f"allow_{action.name.lower()}"
    return Depends(dependency)


def recheck(ctx: ApiContext, request: Request, action: Action) -> Caller:
    """Check a long-lived request's token again, from its header (a stream: revoked or disabled ends it)."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    try:
        token = verify_token(ctx.ledger, raw.strip() if scheme.lower() == "bearer" else None)
    except TokenRefusedError as e:
        raise _refuse(ctx, request, 401, "unauthorized", str(e), actor=e.user or "unknown user", reason=e.reason,
                      prefix=e.prefix, action=action) from None
    return permit(ctx, request, token, action)
