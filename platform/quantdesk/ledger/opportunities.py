"""Rows of `arb_opportunities`: arbitrage episodes, each stored and notified once (issue 28).

`LedgerOpportunities` is the store `quantdesk.arb.OpportunityTracker` writes through: `open`
inserts an episode and enqueues its `arb_opportunity` message in the same transaction (the
outbox delivers it, folding bursts into a digest), or only notes a sighting when an episode
with that key is already open (another scan or process found it first: no second message).
The ledger knows nothing of the scanner: records arrive as JSON-ready mappings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from quantdesk.core.clock import ensure_utc
from quantdesk.core.money import to_decimal
from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.outbox import enqueue
from quantdesk.ledger.schema import arb_opportunities

__all__ = ["EVENT_TYPE", "LedgerOpportunities", "OpportunityRecord"]

EVENT_TYPE = "arb_opportunity"
_T = arb_opportunities
_DETAILS = ("transfer_cost", "transfer_cost_source", "conversions")


@dataclass(frozen=True, slots=True, kw_only=True)
class OpportunityRecord:
    """One stored episode."""

    id: int
    key: str
    kind: str
    scope: str
    summary: str
    detected_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    legs: list[dict[str, Any]]
    size: Decimal
    size_unit: str
    size_currency: str
    edge_bps: Decimal
    best_edge_bps: Decimal
    last_edge_bps: Decimal
    profit_quote: Decimal
    quote_currency: str
    book_age_ms: int
    book_ages: dict[str, int]
    details: dict[str, Any]
    observations: int

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


def _record(row: Any) -> OpportunityRecord:
    m = row._mapping
    values = {name: m[name] for name in OpportunityRecord.__slots__}  # type: ignore[attr-defined]
    for name in ("legs", "book_ages", "details"):
        values[name] = json.loads(m[name])
    return OpportunityRecord(**values)


class LedgerOpportunities:
    """Store and read arbitrage episodes in the ledger (an `OpportunityStore` for the tracker)."""

    def __init__(self, ledger: LedgerBase) -> None:
        self.ledger = ledger

    def open(self, record: Mapping[str, Any]) -> bool:
        """Insert a new episode with its notification; False (a sighting noted) when one is open for its key."""
        key = str(record["key"])
        at = ensure_utc(record["detected_at"]) if isinstance(record["detected_at"], datetime) else \
            datetime.fromisoformat(str(record["detected_at"]))
        edge = to_decimal(record["edge_bps"])
        try:
            with self.ledger._write() as c:
                found = c.execute(select(_T.c.id, _T.c.best_edge_bps, _T.c.observations)
                                  .where(_T.c.open_key == key)).first()
                if found is not None:
                    c.execute(update(_T).where(_T.c.id == found.id).values(
                        last_seen_at=at, last_edge_bps=edge, observations=found.observations + 1,
                        best_edge_bps=max(edge, to_decimal(found.best_edge_bps))))
                    return False
                c.execute(_T.insert().values(
                    key=key, open_key=key, kind=str(record["kind"]), scope=str(record["scope"]),
                    summary=str(record["summary"]), detected_at=at, last_seen_at=at, ended_at=None,
                    legs=canonical_json(list(record["legs"])), size=to_decimal(record["size"]),
                    size_unit=str(record["size_unit"]), size_currency=str(record["size_currency"]),
                    edge_bps=edge, best_edge_bps=edge, last_edge_bps=edge,
                    profit_quote=to_decimal(record["profit_quote"]), quote_currency=str(record["quote_currency"]),
                    book_age_ms=int(record["book_age_ms"]), book_ages=canonical_json(dict(record["book_ages"])),
                    details=canonical_json({k: record.get(k) for k in _DETAILS if k in record}), observations=1))
                enqueue(c, ts=at, event_type=EVENT_TYPE, level="info", payload={
                    "key": key, "kind": record["kind"], "summary": record["summary"], "edge_bps": str(edge),
                    "profit_quote": str(record["profit_quote"]), "quote_currency": record["quote_currency"],
                    "size": str(record["size"]), "size_unit": record["size_unit"],
                    "size_currency": record["size_currency"], "book_age_ms": int(record["book_age_ms"]),
                    "legs": list(record["legs"])})
                return True
        except IntegrityError:  # another process opened it between our read and insert
            return False

    def touch(self, key: str, *, seen_at: datetime, edge_bps: Decimal, observations: int) -> None:
        """Note that the open episode of `key` was seen again (its latest and best edge, how often)."""
        with self.ledger._write() as c:
            found = c.execute(select(_T.c.id, _T.c.best_edge_bps).where(_T.c.open_key == key)).first()
            if found is None:
                return
            c.execute(update(_T).where(_T.c.id == found.id).values(
                last_seen_at=seen_at, last_edge_bps=edge_bps, observations=observations,
                best_edge_bps=max(to_decimal(edge_bps), to_decimal(found.best_edge_bps))))

    def close_missing(self, scope: str, keep: Iterable[str], *, at: datetime,
                      closable: Callable[[str], bool] | None = None) -> list[str]:
        """Close the open episodes of `scope` whose key is not in `keep` (and `closable(key)`); return their keys."""
        kept = set(keep)
        with self.ledger._write() as c:
            rows = c.execute(select(_T.c.id, _T.c.key).where(and_(_T.c.scope == scope, _T.c.open_key.is_not(None))))
            gone = [(row.id, row.key) for row in rows if row.key not in kept and (closable is None or closable(row.key))]
            if gone:
                c.execute(update(_T).where(_T.c.id.in_([i for i, _ in gone])).values(open_key=None, ended_at=at))
        return [key for _, key in gone]

    def history(self, *, limit: int = 200, open_only: bool = False, kind: str | None = None) -> list[OpportunityRecord]:
        """Return the newest `limit` episodes, newest first (only the open ones with `open_only`)."""
        query = select(_T).order_by(_T.c.detected_at.desc(), _T.c.id.desc()).limit(limit)
        if open_only:
            query = query.where(_T.c.open_key.is_not(None))
        if kind:
            query = query.where(_T.c.kind == kind)
        with self.ledger._read() as c:
            return [_record(row) for row in c.execute(query).all()]
