"""Keyset pages over the ledger's growing tables, for readers that page (the HTTP API, exports).

A page is read by its key column (ids and audit seqs only grow): newest first below a
`before` key, or oldest first above an `after` key (a feed that resumes where it stopped).
One more row than asked is read, so the caller knows whether another page follows without
counting the table. Every filter is a plain equality or a time bound on an indexed column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Table, select

from quantdesk.ledger.audit import row_to_entry
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.outbox import OutboxRecord, _record
from quantdesk.ledger.records import AuditEntry, FillRecord, OrderRecord, RiskEventRecord
from quantdesk.ledger.rows import to_fill, to_order, to_risk_event
from quantdesk.ledger.schema import audit_log, fills, notification_outbox, orders, risk_events

__all__ = ["Page", "PageQuery", "audit_page", "fills_page", "orders_page", "outbox_page", "risk_events_page"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageQuery:
    """Where a page starts and how long it is: `before` (newest first) or `after` (oldest first)."""

    limit: int
    before: int | None = None
    after: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """Rows of one page and the key to pass as `before`/`after` for the next (None: no more)."""

    items: list[T]
    next_key: int | None


def _read(ledger: LedgerBase, table: Table, key: ColumnElement[int], time: ColumnElement[datetime],
          where: Sequence[ColumnElement[bool]], query: PageQuery, convert: Callable[..., T],
          key_of: Callable[[T], int]) -> Page[T]:
    statement = select(table)
    conditions = list(where)
    if query.before is not None:
        conditions.append(key < query.before)
    if query.after is not None:
        conditions.append(key > query.after)
    if query.since is not None:
        conditions.append(time >= query.since)
    if query.until is not None:
        conditions.append(time < query.until)
    if conditions:
        statement = statement.where(*conditions)
    statement = statement.order_by(key.asc() if query.after is not None else key.desc()).limit(query.limit + 1)
    with ledger._read() as c:
        rows = c.execute(statement).all()
    items = [convert(r) for r in rows[: query.limit]]
    return Page(items=items, next_key=key_of(items[-1]) if len(rows) > query.limit and items else None)


def _equal(table: Table, **values: object) -> list[ColumnElement[bool]]:
    return [table.c[name] == value for name, value in values.items() if value is not None]


def orders_page(ledger: LedgerBase, query: PageQuery, *, deployment: str | None = None, venue: str | None = None,
                symbol: str | None = None, status: str | None = None) -> Page[OrderRecord]:
    """Return a page of orders (by creation time bounds `since`/`until`)."""
    where = _equal(orders, deployment=deployment, venue=venue, symbol=symbol, status=status)
    return _read(ledger, orders, orders.c.id, orders.c.created_at, where, query, to_order, lambda o: o.id)


def fills_page(ledger: LedgerBase, query: PageQuery, *, deployment: str | None = None, venue: str | None = None,
               symbol: str | None = None) -> Page[FillRecord]:
    """Return a page of fills (by trade time bounds); `deployment`: fills of that deployment's orders."""
    where = _equal(fills, venue=venue, symbol=symbol)
    if deployment is not None:
        where.append(select(orders.c.id).where(orders.c.client_order_id == fills.c.client_order_id,
                                               orders.c.deployment == deployment).exists())
    return _read(ledger, fills, fills.c.id, fills.c.ts, where, query, to_fill, lambda f: f.id)


def risk_events_page(ledger: LedgerBase, query: PageQuery, *, approved: bool | None = None,
                     deployment: str | None = None, venue: str | None = None, symbol: str | None = None,
                     code: str | None = None) -> Page[RiskEventRecord]:
    """Return a page of risk events (`approved=False`: the denials and automatic state changes)."""
    where = _equal(risk_events, approved=approved, deployment=deployment, venue=venue, symbol=symbol, code=code)
    return _read(ledger, risk_events, risk_events.c.id, risk_events.c.ts, where, query, to_risk_event,
                 lambda e: e.id)


def audit_page(ledger: LedgerBase, query: PageQuery, *, actor: str | None = None, action: str | None = None,
               actions: Sequence[str] | None = None) -> Page[AuditEntry]:
    """Return a page of audit entries by seq (`actions`: any of these actions)."""
    where = _equal(audit_log, actor=actor, action=action)
    if actions is not None:
        where.append(audit_log.c.action.in_(list(actions)))
    return _read(ledger, audit_log, audit_log.c.seq, audit_log.c.ts, where, query, row_to_entry, lambda e: e.seq)


def outbox_page(ledger: LedgerBase, query: PageQuery, *, event_type: str | None = None,
                status: str | None = None) -> Page[OutboxRecord]:
    """Return a page of notification messages, each with its delivery status."""
    where = _equal(notification_outbox, event_type=event_type, status=status)
    return _read(ledger, notification_outbox, notification_outbox.c.id, notification_outbox.c.created_at, where,
                 query, _record, lambda r: r.id)
