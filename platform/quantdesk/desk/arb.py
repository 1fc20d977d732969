"""What the arbitrage page shows: open opportunities and recent episodes from the ledger (issue 28).

Read-only for every logged-in role (the scanner, not the page, finds them; nobody acts from here).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.ledger import Ledger
from quantdesk.ledger.opportunities import LedgerOpportunities, OpportunityRecord

__all__ = ["arbitrage"]


def _route(record: OpportunityRecord) -> str:
    return ", ".join(f"{leg.get('side')} {leg.get('qty')} {leg.get('symbol')}@{leg.get('venue')}"
                     for leg in record.legs)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _bps(value: Decimal) -> str:
    return f"{value:.2f}"


def arbitrage(ledger: Ledger, *, limit: int = 200) -> dict[str, Any]:
    """Return the open opportunities (best first) and the `limit` newest episodes, as table rows."""
    records = LedgerOpportunities(ledger).history(limit=limit)
    open_rows = sorted((r for r in records if r.is_open), key=lambda r: -r.last_edge_bps)
    return {
        "open": [{"kind": r.kind, "legs": _route(r), "size": f"{r.size} {r.size_currency}",
                  "edge now (bps)": _bps(r.last_edge_bps), "best (bps)": _bps(r.best_edge_bps),
                  "profit": f"{r.profit_quote:.4f} {r.quote_currency}", "book age (ms)": r.book_age_ms,
                  "since": _when(r.detected_at), "seen": r.observations} for r in open_rows],
        "recent": [{"kind": r.kind, "legs": _route(r), "edge at first (bps)": _bps(r.edge_bps),
                    "best (bps)": _bps(r.best_edge_bps), "from": _when(r.detected_at),
                    "until": _when(r.ended_at) or "open", "seen": r.observations} for r in records],
    }
