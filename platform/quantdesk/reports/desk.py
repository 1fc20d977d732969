"""The desk report (daily or weekly): PnL by deployment, exposure, risk events, drift, data health.

`write_desk_report` gathers the figures from the ledger, the lake and the drift reports into a
JSON snapshot, executes `research/reports/desk_report.ipynb` with papermill on it (the notebook
only draws), renders HTML and prints it to PDF with Chromium. Files go to
`$QUANTDESK_HOME/reports/desk/<period>-<YYYY-MM-DD>.{json,html,pdf}`. The report is audited
(`report.desk`), so its summary (the daily PnL) reaches people through the notification outbox.
The monitor flow writes the daily report once a day and the weekly one on Mondays.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantdesk.core.errors import ConfigError

__all__ = ["PERIODS", "DeskReport", "desk_snapshot", "write_desk_report"]

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
NOTEBOOK = Path(__file__).resolve().parents[3] / "research" / "reports" / "desk_report.ipynb"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskReport:
    """Where a desk report was written and its headline figures."""

    period: str
    start: datetime
    end: datetime
    snapshot: Path
    html: Path
    pdf: Path | None
    summary: dict[str, Any]


def _num(value: Decimal) -> float:
    return float(round(value, 8))


def desk_snapshot(ledger: Any, lake: Any, *, period: str, now: datetime, reports_dir: Path) -> dict[str, Any]:
    """Return the report's figures for the `period` ending at `now` (JSON-ready)."""
    from quantdesk.promotion import list_deployments

    if period not in PERIODS:
        raise ConfigError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    start = now - PERIODS[period]
    deployments = {d.name: d for d in list_deployments(ledger)}
    cid_to_dep = {o.client_order_id: o.deployment for o in ledger.orders(limit=100_000)}
    flows: dict[str, dict[str, Decimal | int]] = defaultdict(lambda: {"cash_flow": Decimal(0), "fees": Decimal(0),
                                                                     "fills": 0, "notional": Decimal(0)})
    for f in ledger.fills(since=start):
        if f.ts >= now:
            continue
        name = cid_to_dep.get(f.client_order_id or "") or "external"
        sign = Decimal(-1) if str(f.side).lower().endswith("buy") else Decimal(1)
        row = flows[name]
        row["cash_flow"] += sign * f.qty * f.price - f.fee
        row["fees"] += f.fee
        row["fills"] += 1
        row["notional"] += f.qty * f.price
    pnl = []
    for name in sorted(set(deployments) | set(flows)):
        d, row = deployments.get(name), flows.get(name, {})
        pnl.append({"deployment": name, "stage": d.stage.value if d else "-", "state": d.state.value if d else "-",
                    "fills": int(row.get("fills", 0)), "notional": _num(Decimal(row.get("notional", 0))),
                    "cash_flow": _num(Decimal(row.get("cash_flow", 0))), "fees": _num(Decimal(row.get("fees", 0))),
                    "pnl_to_date": None if d is None or d.pnl is None else float(d.pnl)})
    exposure = [{"venue": p.venue, "symbol": p.symbol, "qty": float(p.qty), "cost": float(p.cost)}
                for p in ledger.positions() if p.qty]
    events = [{"ts": e.ts.isoformat(timespec="seconds"), "code": e.code, "deployment": e.deployment,
               "symbol": e.symbol, "detail": e.detail[:200]}
              for e in ledger.risk_events(since=start) if not e.approved and e.ts < now]
    drift = []
    for path in sorted((reports_dir / "drift").glob("*/*.json")):
        body = json.loads(path.read_text())
        at = body.get("at")
        if at and start.isoformat() <= at < now.isoformat():
            drift.append({"deployment": body.get("deployment"), "at": at, "status": body.get("status"),
                          "drift_bps": body.get("drift_bps")})
    coverage = lake.coverage()
    health = coverage.select("exchange", "symbol", "timeframe", "last", "rows", "gaps", "missing_bars",
                             "quarantined").to_dicts() if coverage.height else []
    for row in health:
        row["last"] = row["last"].isoformat() if row["last"] is not None else None
    total = sum((Decimal(str(r["cash_flow"])) for r in pnl), Decimal(0))
    from quantdesk.book.overview import risk_overview

    return {"period": period, "start": start.isoformat(), "end": now.isoformat(), "date": f"{now:%Y-%m-%d}",
            "total_cash_flow": _num(total), "total_fees": sum(r["fees"] for r in pnl),
            "fills": sum(r["fills"] for r in pnl), "pnl": pnl, "exposure": exposure, "risk_events": events,
            "drift": drift, "data_health": health,
            "risk": risk_overview(ledger, lake)}  # VaR/ES, the VaR backtest and the stress table (issue 25)


def write_desk_report(ledger: Any, lake: Any = None, *, period: str = "daily", now: datetime | None = None,
                      pdf: bool = True, reports_dir: Path | None = None, actor: str = "reports") -> DeskReport:
    """Write the desk report for the `period` ending `now` (HTML and, with `pdf`, PDF); audit its summary."""
    from quantdesk.core.settings import get_settings
    from quantdesk.lake import Lake
    from quantdesk.reports.notebook import render_notebook
    from quantdesk.reports.pdf import html_to_pdf

    now = now or ledger._now()
    lake = lake or Lake()
    reports_dir = reports_dir or get_settings().reports_dir
    snap = desk_snapshot(ledger, lake, period=period, now=now, reports_dir=reports_dir)
    out = reports_dir / "desk"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{period}-{snap['date']}"
    snapshot = out / f"{stem}.json"
    snapshot.write_text(json.dumps(snap, indent=2, default=str))
    html = render_notebook(NOTEBOOK, out / f"{stem}.ipynb", out / f"{stem}.html", {"snapshot_path": str(snapshot)})
    printed = html_to_pdf(html) if pdf else None
    summary = {"period": period, "date": snap["date"], "total_cash_flow": snap["total_cash_flow"],
               "fills": snap["fills"], "risk_events": len(snap["risk_events"]),
               "deployments": [{"deployment": r["deployment"], "cash_flow": r["cash_flow"]} for r in snap["pnl"]],
               "report": str(printed or html)}
    ledger.audit(actor, "report.desk", summary)
    return DeskReport(period=period, start=datetime.fromisoformat(snap["start"]), end=now, snapshot=snapshot,
                      html=html, pdf=printed, summary=summary)
