"""Everything the risk page and the desk report show about the book's risk, in one JSON-ready dict.

The desk's and each deployment's VaR and ES with contributions, the VaR series against the
realised P&L (the monitor's stored series; a rolling backtest of today's book where none is
stored yet) with exceptions and the traffic-light zone, and every stress scenario. A part that
cannot be computed (no positions, history missing) says why instead of failing the page.
"""

from __future__ import annotations

from typing import Any

from quantdesk.core.errors import QuantdeskError
from quantdesk.core.jsonable import to_jsonable

__all__ = ["risk_overview"]


def _deployment_rows(ledger: Any, lake: Any, settings: Any, cfg: Any, names: list[str]) -> list[dict[str, Any]]:
    from quantdesk.book.var import book_var_report

    rows = []
    for name in names:
        try:
            r = book_var_report(ledger, lake, deployment=name, method=cfg.method, confidence=cfg.confidence,
                                window_days=cfg.window_days, by="asset", settings=settings)
        except QuantdeskError:
            continue  # flat, or no history: nothing at risk to show
        rows.append({"name": name, "var_quote": r.var_quote, "es_quote": r.es_quote,
                     "var_pct_of_equity": r.to_json()["var_pct_of_equity"],
                     "contributions": [to_jsonable(c) for c in r.contributions]})
    return rows


def _backtest(ledger: Any, lake: Any, settings: Any, days: int) -> tuple[dict[str, Any] | None, str]:
    from quantdesk.book.series import backtest_report

    notes = []
    for source in ("ledger", "lake"):
        try:
            report = backtest_report(ledger, lake, source=source, days=days, settings=settings)
        except QuantdeskError as e:
            notes.append(str(e))
            continue
        return dict(to_jsonable(report)), ""
    return None, "; ".join(notes)


def risk_overview(ledger: Any, lake: Any = None, *, settings: Any = None, backtest_days: int = 250,
                  stress: bool = True) -> dict[str, Any]:
    """Return the desk's VaR/ES, the deployments', the VaR backtest and the stress table."""
    from quantdesk.book.stress import stress_report
    from quantdesk.book.var import book_var_report
    from quantdesk.core.settings import get_settings
    from quantdesk.lake import Lake
    from quantdesk.risk import RiskConfig

    settings = settings or get_settings()
    lake = lake or Lake()
    cfg = RiskConfig.from_settings(settings).var_settings
    out: dict[str, Any] = {"method": cfg.method, "confidence": cfg.confidence, "window_days": cfg.window_days,
                           "desk": None, "note": "", "deployments": [], "backtest": None, "backtest_note": "",
                           "stress": []}
    try:
        desk = book_var_report(ledger, lake, method=cfg.method, confidence=cfg.confidence,
                               window_days=cfg.window_days, settings=settings)
    except QuantdeskError as e:
        out["note"] = str(e)
        return out
    out["desk"] = desk.to_json()
    names = sorted({p["deployment"] for p in desk.positions})
    out["deployments"] = _deployment_rows(ledger, lake, settings, cfg, names)
    out["backtest"], out["backtest_note"] = _backtest(ledger, lake, settings, backtest_days)
    if stress:
        try:
            out["stress"] = [dict(to_jsonable(r)) for r in stress_report(ledger, lake, settings=settings)]
        except QuantdeskError as e:
            out["stress_note"] = str(e)
    return out
