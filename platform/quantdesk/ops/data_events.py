"""Data events people should hear about: rows the lake quarantined during an ingestion."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["record_quarantined"]


def _field(report: Any, name: str) -> Any:
    return report[name] if isinstance(report, dict) else getattr(report, name)


def record_quarantined(reports: Iterable[Any], *, actor: str, ledger: Any = None) -> int:
    """Audit (and so notify, as `data_quarantined`) each ingestion report that quarantined rows; return how many.

    `reports` are `IngestReport`s or their JSON form (the ingest flow's task results).
    """
    found = [r for r in reports if _field(r, "quarantined")]
    if not found:
        return 0
    from quantdesk.ledger import Ledger

    own = ledger is None
    ledger = ledger or Ledger()
    try:
        for r in found:
            ledger.audit(actor, "data.quarantined", {
                "exchange": _field(r, "exchange"), "symbol": _field(r, "symbol"), "timeframe": _field(r, "timeframe"),
                "rows": _field(r, "quarantined"),
                "detail": "see `quantdesk lake quarantine` for the rows and the reasons"})
    finally:
        if own:
            ledger.close()
    return len(found)
