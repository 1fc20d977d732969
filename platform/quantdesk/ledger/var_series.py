"""The daily VaR/ES series (table `var_series`, revision 0014): write a day's figures, fill in its outcome.

A row is written once per (scope, day, method) and never rewritten: a second write for the same
key returns the stored row. Only its outcome (realised P&L, exception, zone) is filled in later,
once, when the day has closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.schema import var_series

__all__ = ["VarRecord", "record_var", "record_var_outcome", "var_rows"]

_PLACES = Decimal("0.00000001")


@dataclass(frozen=True, slots=True, kw_only=True)
class VarRecord:
    """One stored day of a VaR series (`pnl_quote` and after: None until the day is evaluated)."""

    id: int
    scope: str
    day: str
    as_of: str
    method: str
    confidence: Decimal
    window_days: int
    observations: int
    var_quote: Decimal
    es_quote: Decimal
    gross_quote: Decimal
    positions: list[dict[str, Any]]
    created_at: datetime
    pnl_quote: Decimal | None = None
    exception: bool | None = None
    zone: str | None = None
    evaluated_at: datetime | None = None


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_PLACES)


def _record(row: Any) -> VarRecord:
    return VarRecord(id=row.id, scope=row.scope, day=row.day, as_of=row.as_of, method=row.method,
                     confidence=row.confidence, window_days=row.window_days, observations=row.observations,
                     var_quote=row.var_quote, es_quote=row.es_quote, gross_quote=row.gross_quote,
                     positions=json.loads(row.positions), created_at=row.created_at, pnl_quote=row.pnl_quote,
                     exception=row.exception, zone=row.zone, evaluated_at=row.evaluated_at)


def record_var(ledger: LedgerBase, *, scope: str, day: str, as_of: str, method: str, confidence: float,
               window_days: int, observations: int, var_quote: float, es_quote: float, gross_quote: float,
               positions: Sequence[Mapping[str, Any]], at: datetime | None = None) -> tuple[VarRecord, bool]:
    """Store one day's VaR and ES; return (the row, whether it was written now or already there)."""
    values = dict(scope=scope, day=day, as_of=as_of, method=method, confidence=Decimal(str(confidence)),
                  window_days=int(window_days), observations=int(observations), var_quote=_money(var_quote),
                  es_quote=_money(es_quote), gross_quote=_money(gross_quote),
                  positions=canonical_json([dict(p) for p in positions]), created_at=ledger._now(at))
    key = (var_series.c.scope == scope) & (var_series.c.day == day) & (var_series.c.method == method)
    try:
        with ledger._write() as c:
            if c.execute(select(var_series.c.id).where(key)).first() is None:
                c.execute(var_series.insert().values(**values))
                written = True
            else:
                written = False
    except IntegrityError:  # another monitor wrote the same day first
        written = False
    with ledger._read() as c:
        return _record(c.execute(select(var_series).where(key)).one()), written


def record_var_outcome(ledger: LedgerBase, record_id: int, *, pnl_quote: float, exception: bool, zone: str,
                       at: datetime | None = None) -> bool:
    """Fill in a day's realised P&L, exception and zone once; return False when it was already filled."""
    with ledger._write() as c:
        done = c.execute(var_series.update().where(var_series.c.id == record_id, var_series.c.evaluated_at.is_(None))
                         .values(pnl_quote=_money(pnl_quote), exception=bool(exception), zone=zone,
                                 evaluated_at=ledger._now(at)))
        return bool(done.rowcount)


def var_rows(ledger: LedgerBase, scope: str = "desk", *, method: str | None = None,
             limit: int | None = None) -> list[VarRecord]:
    """Return a scope's stored days, oldest first (the newest `limit` when given)."""
    query = select(var_series).where(var_series.c.scope == scope)
    if method is not None:
        query = query.where(var_series.c.method == method)
    query = query.order_by(var_series.c.day.desc())
    if limit is not None:
        query = query.limit(limit)
    with ledger._read() as c:
        rows = c.execute(query).all()
    return [_record(r) for r in reversed(rows)]
