"""Rows of `api_tokens` and `api_idempotency` (revision 0016): HTTP API tokens and idempotency keys.

Plain persistence; what a token may do and how a request is replayed live in
`quantdesk.identity.tokens` and `quantdesk.api`. A token's creation and revocation append their
audit entry in the same transaction, so the token table and the audit log never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from quantdesk.core.errors import LedgerError
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.registry import AuditSpec, _audit
from quantdesk.ledger.schema import api_idempotency, api_tokens

__all__ = [
    "ApiTokenRow",
    "IdempotencyRow",
    "answer_idempotency",
    "claim_idempotency",
    "insert_api_token",
    "revoke_api_token",
    "token_by_prefix",
    "token_rows",
    "touch_api_token",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTokenRow:
    """One stored token: its prefix and hash (never the token), owner, scope and life."""

    prefix: str
    token_hash: str
    user: str
    scope: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyRow:
    """One remembered request: its digest, the order it made, and its answer once known."""

    user: str
    key: str
    request_hash: str
    client_order_id: str | None
    status_code: int | None
    body: str | None
    created_at: datetime


def _token(row: Any) -> ApiTokenRow:
    return ApiTokenRow(**{c.name: getattr(row, c.name) for c in api_tokens.columns})


def _remembered(row: Any) -> IdempotencyRow:
    return IdempotencyRow(user=row.user, key=row.key, request_hash=row.request_hash,
                          client_order_id=row.client_order_id, status_code=row.status_code, body=row.body,
                          created_at=row.created_at)


def insert_api_token(ledger: LedgerBase, values: Mapping[str, Any], *, audit: AuditSpec) -> ApiTokenRow:
    """Store a new token row and its audit entry in one transaction; LedgerError on a prefix clash."""
    try:
        with ledger._write() as c:
            c.execute(api_tokens.insert().values(**values))
            _audit(ledger, c, audit)
            row = c.execute(select(api_tokens).where(api_tokens.c.prefix == values["prefix"])).one()
    except IntegrityError as e:
        raise LedgerError(f"token prefix {values['prefix']!r} is taken; create the token again") from e
    return _token(row)


def token_by_prefix(ledger: LedgerBase, prefix: str) -> ApiTokenRow | None:
    """Return the token row with this prefix, or None."""
    with ledger._read() as c:
        row = c.execute(select(api_tokens).where(api_tokens.c.prefix == prefix)).first()
    return None if row is None else _token(row)


def token_rows(ledger: LedgerBase, *, user: str | None = None) -> list[ApiTokenRow]:
    """Return every token row (of `user`, when given), oldest first."""
    query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.prefix)
    if user is not None:
        query = query.where(api_tokens.c.user == user)
    with ledger._read() as c:
        return [_token(r) for r in c.execute(query).all()]


def revoke_api_token(ledger: LedgerBase, prefix: str, *, at: datetime, by: str, audit: AuditSpec) -> ApiTokenRow | None:
    """Mark the token revoked (once; a second revocation changes nothing) with its audit entry.

    Return the row as it now is, or None for an unknown prefix.
    """
    with ledger._write() as c:
        row = c.execute(select(api_tokens).where(api_tokens.c.prefix == prefix)).first()
        if row is None:
            return None
        if row.revoked_at is None:
            c.execute(api_tokens.update().where(api_tokens.c.prefix == prefix).values(revoked_at=at, revoked_by=by))
            _audit(ledger, c, audit)
            row = c.execute(select(api_tokens).where(api_tokens.c.prefix == prefix)).one()
    return _token(row)


def touch_api_token(ledger: LedgerBase, prefix: str, at: datetime) -> None:
    """Record that the token was used at `at`."""
    with ledger._write() as c:
        c.execute(api_tokens.update().where(api_tokens.c.prefix == prefix).values(last_used_at=at))


def claim_idempotency(
    ledger: LedgerBase, *, user: str, key: str, request_hash: str, client_order_id: str | None, now: datetime,
    forget_before: datetime | None = None,
) -> tuple[IdempotencyRow, bool]:
    """Remember `key` for `user` before its action runs; return the row and whether it is new.

    A key seen before returns the stored row (its digest, and its answer once written). With
    `forget_before`, keys answered before it are forgotten first (the table holds a window).
    """
    for attempt in range(2):
        try:
            with ledger._write() as c:
                if forget_before is not None:
                    c.execute(delete(api_idempotency).where(api_idempotency.c.created_at < forget_before,
                                                            api_idempotency.c.status_code.is_not(None)))
                found = c.execute(select(api_idempotency).where(
                    api_idempotency.c.user == user, api_idempotency.c.key == key)).first()
                if found is not None:
                    return _remembered(found), False
                values = dict(user=user, key=key, request_hash=request_hash, client_order_id=client_order_id,
                              status_code=None, body=None, created_at=now, answered_at=None)
                c.execute(api_idempotency.insert().values(**values))
                return IdempotencyRow(**{k: v for k, v in values.items() if k != "answered_at"}), True
        except IntegrityError:  # PostgreSQL: the same key arrived twice at once; read the other one
            if attempt:
                raise LedgerError(f"cannot remember idempotency key for {user!r}: conflicting writes") from None
    raise AssertionError("unreachable")


def answer_idempotency(ledger: LedgerBase, *, user: str, key: str, status_code: int, body: str, at: datetime) -> None:
    """Store the answer given to the request with `key`, to replay to its retries."""
    with ledger._write() as c:
        c.execute(api_idempotency.update().where(api_idempotency.c.user == user, api_idempotency.c.key == key)
                  .values(status_code=status_code, body=body, answered_at=at))
