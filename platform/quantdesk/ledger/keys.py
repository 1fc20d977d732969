"""Rows of `exchange_keys`: encrypted exchange API keys (the ledger stores tokens, never keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.registry import AuditSpec, _as_dict, _audit
from quantdesk.ledger.schema import exchange_keys

__all__ = ["exchange_key_row", "exchange_key_rows", "put_exchange_key", "reencrypt_exchange_keys"]


def put_exchange_key(
    ledger: LedgerBase, *, venue: str, account: str, api_key: str, api_secret: str, key_fingerprint: str,
    set_by: str, audit: AuditSpec | None = None,
) -> None:
    """Store (or replace) the encrypted key pair of `venue`/`account` with its audit entry, in one transaction."""
    values = {"api_key": api_key, "api_secret": api_secret, "key_fingerprint": key_fingerprint,
              "set_by": set_by, "updated_at": ledger._now()}
    where = (exchange_keys.c.venue == venue) & (exchange_keys.c.account == account)
    with ledger._write() as c:
        if c.execute(select(exchange_keys.c.venue).where(where).with_for_update()).first() is None:
            c.execute(exchange_keys.insert().values(venue=venue, account=account, **values))
        else:
            c.execute(exchange_keys.update().where(where).values(**values))
        _audit(ledger, c, audit)


def exchange_key_row(ledger: LedgerBase, venue: str, account: str) -> dict[str, Any] | None:
    """Return the stored row of `venue`/`account` (tokens included), or None."""
    where = (exchange_keys.c.venue == venue) & (exchange_keys.c.account == account)
    with ledger._read() as c:
        row = c.execute(select(exchange_keys).where(where)).first()
    return _as_dict(row) if row is not None else None


def exchange_key_rows(ledger: LedgerBase) -> list[dict[str, Any]]:
    """Return every stored row, by venue and account (tokens included: callers show fingerprints only)."""
    with ledger._read() as c:
        rows = c.execute(select(exchange_keys).order_by(exchange_keys.c.venue, exchange_keys.c.account)).all()
    return [_as_dict(r) for r in rows]


def reencrypt_exchange_keys(ledger: LedgerBase, rotate: Callable[[str], str], *, audit: AuditSpec | None = None) -> int:
    """Replace every token with `rotate(token)` in ONE transaction: all keys move to the new master key or none."""
    with ledger._write() as c:
        rows = c.execute(select(exchange_keys).with_for_update()).all()
        for row in rows:
            c.execute(
                exchange_keys.update()
                .where((exchange_keys.c.venue == row.venue) & (exchange_keys.c.account == row.account))
                .values(api_key=rotate(row.api_key), api_secret=rotate(row.api_secret))
            )
        _audit(ledger, c, audit)
        return len(rows)
