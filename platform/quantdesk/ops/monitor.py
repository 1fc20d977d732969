"""The monitor's checks: audit chain, data freshness of running deployments, and message delivery.

Each breach is stored (a risk event and a `monitor.breach` audit entry, whose message the
outbox carries in the same transaction) and returned in the report, so a scheduled run both
tells people and leaves evidence. The outbox is drained at the end: whatever an exited process
left undelivered goes out here.
Each venue with running live deployments is reconciled (a disagreement is a breach), and once
a day each running paper/live deployment's drift report is written to
`$QUANTDESK_HOME/reports/drift/<deployment>/<day>.json` (drift above the promotion gate's
`max_drift_bps` is a breach). Once a day the desk's VaR and ES are stored and the closed days
backtested (`quantdesk.book.series`): an exception or a new traffic-light zone is a `var_breach`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from quantdesk.core.errors import LakeError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.ledger import Ledger

__all__ = ["Breach", "MonitorReport", "run_monitor"]

STALE_BARS = 3  # a running deployment's newest candle may be this many bars behind the clock


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """One thing the monitor found wrong: a code, where, and the detail a person needs."""

    code: str
    detail: str
    deployment: str | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorReport:
    """What one monitor run checked and found."""

    at: datetime
    audit_ok: bool
    audit_entries: int
    checked_series: int
    breaches: tuple[Breach, ...]
    delivery: dict[str, int] = field(default_factory=dict)
    drift_reports: int = 0
    var_series: dict[str, Any] = field(default_factory=dict)  # the desk's daily VaR (issue 25)

    @property
    def ok(self) -> bool:
        return not self.breaches


def _freshness(ledger: Ledger, lake: Any, now: datetime) -> tuple[int, list[Breach]]:
    from quantdesk.lake.quality import find_gaps
    from quantdesk.live.spec import RunSpec
    from quantdesk.promotion import DeploymentState, list_deployments

    breaches, checked = [], 0
    for d in list_deployments(ledger):
        if d.state is not DeploymentState.RUNNING:
            continue
        limit = timedelta(milliseconds=STALE_BARS * timeframe_ms(d.timeframe))
        exchange = RunSpec.from_deployment(d).data_exchange
        for symbol in d.symbols:
            checked += 1
            try:
                recent = lake.candles(symbol, d.timeframe, start=now - 50 * limit, exchange=exchange)
            except LakeError:
                recent = None
            last = None if recent is None or recent.is_empty() else recent["ts"].max()
            if recent is not None and recent.height > 1:
                holes = find_gaps(recent.get_column("ts"), timeframe_ms(d.timeframe))
                if holes.height:
                    first = holes.row(0, named=True)
                    breaches.append(Breach(
                        code="DATA_GAP", deployment=d.name, symbol=symbol,
                        detail=f"{int(holes['missing_bars'].sum())} {d.timeframe} bars missing in the last "
                               f"{50 * STALE_BARS} bars (first at {first['start']:%Y-%m-%d %H:%M}); backfill with "
                               "`quantdesk ingest` or the ingest deployment"))
            if last is None or now - last > limit:
                seen = "no candles" if last is None else f"newest candle {last:%Y-%m-%d %H:%M}"
                breaches.append(Breach(code="DATA_STALE", deployment=d.name, symbol=symbol,
                                       detail=f"{seen}, more than {STALE_BARS} {d.timeframe} bars before {now:%Y-%m-%d %H:%M}; "
                                              "check the venue feed and the runner"))
    return checked, breaches


def _running(ledger: Ledger) -> list[Any]:
    from quantdesk.promotion import DeploymentState, list_deployments

    return [d for d in list_deployments(ledger) if d.state is DeploymentState.RUNNING]


def _reconcile(ledger: Ledger, now: datetime) -> list[Breach]:
    """Reconcile each configured venue that running live deployments trade on."""
    from quantdesk.broker.factory import open_gated
    from quantdesk.core.types import Stage

    breaches: list[Breach] = []
    for venue in sorted({d.venue for d in _running(ledger) if d.stage is Stage.LIVE}):
        try:  # an unknown venue or an unreachable one is a breach, not a crashed monitor
            report = open_gated(venue, actor="monitor", ledger=ledger).reconcile()
        except Exception as e:  # noqa: BLE001
            breaches.append(Breach(code="RECONCILE_FAILED", detail=f"{venue}: {type(e).__name__}: {e}"[:500]))
            continue
        if not report.agreed:
            breaches.append(Breach(code="RECONCILE_MISMATCH",
                                   detail=f"{venue}: ledger and venue disagree: {'; '.join(report.unresolved[:3])}"))
    return breaches


def _daily_drift(ledger: Ledger, lake: Any, now: datetime, reports_dir: Any) -> tuple[int, list[Breach]]:
    """Write today's drift report of each running paper/live deployment once; breach above the gate."""
    import json
    from pathlib import Path

    from quantdesk.core.errors import QuantdeskError
    from quantdesk.core.jsonable import to_jsonable
    from quantdesk.core.settings import get_settings
    from quantdesk.parity import drift_report

    settings = get_settings()
    root = Path(reports_dir or settings.reports_dir) / "drift"
    threshold = float((settings.promotion or {}).get("max_drift_bps", 25.0))
    written, breaches = 0, []
    for d in _running(ledger):
        path = root / d.name / f"{now:%Y-%m-%d}.json"
        if path.exists():
            continue
        try:
            report = drift_report(ledger, d, lake=lake)
        except QuantdeskError as e:  # nothing to compare yet (no fills): say so in the file, no breach
            body: dict[str, Any] = {"deployment": d.name, "at": now.isoformat(), "status": "nothing to compare",
                                    "detail": str(e)}
        else:
            body = {"deployment": d.name, "at": now.isoformat(), "status": "ok", **to_jsonable(report)}
            if report.drift_bps is not None and report.drift_bps > threshold:
                body["status"] = "breach"
                breaches.append(Breach(code="DRIFT", deployment=d.name,
                                       detail=f"drift {report.drift_bps:.1f} bps > {threshold:g} bps over "
                                              f"{report.days:.1f} days; see {path}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2, default=str))
        tmp.replace(path)
        written += 1
    return written, breaches


def _var_series(ledger: Ledger, lake: Any, now: datetime) -> dict[str, Any]:
    """Store the desk's VaR for today, evaluate the closed days, raise `var_breach` events (`quantdesk.book`)."""
    from quantdesk.book import monitor_var
    from quantdesk.core.errors import QuantdeskError
    from quantdesk.core.jsonable import to_jsonable

    try:
        return dict(to_jsonable(monitor_var(ledger, lake, now)))
    except QuantdeskError as e:  # a bad [risk.var] or an unreadable lake: said in the report, other checks go on
        return {"error": str(e)}


def run_monitor(ledger: Ledger, *, lake: Any = None, now: datetime | None = None, deliver: bool = True,
                reports_dir: Any = None) -> MonitorReport:
    """Run every check, store each breach (risk event + audited message), deliver the outbox; return the report."""
    from quantdesk.lake import Lake

    now = now or ledger._now()
    lake = lake or Lake()
    verification = ledger.verify_audit()
    breaches: list[Breach] = []
    if not verification.ok:
        breaches.append(Breach(code="AUDIT_CHAIN_BROKEN",
                               detail=f"audit entry {verification.first_bad_seq}: {verification.reason}; "
                                      "stop trading and compare with a backup"))
    checked, stale = _freshness(ledger, lake, now)
    breaches += stale
    breaches += _reconcile(ledger, now)
    drift_written, drift_breaches = _daily_drift(ledger, lake, now, reports_dir)
    breaches += drift_breaches
    var_series = _var_series(ledger, lake, now)
    for b in breaches:
        ledger.record_risk_event(code=b.code, detail=b.detail, deployment=b.deployment, symbol=b.symbol, approved=False)
        ledger.audit("monitor", "monitor.breach", {"code": b.code, "detail": b.detail, "deployment": b.deployment,
                                                   "symbol": b.symbol})
    delivery: dict[str, int] = {}
    if deliver:
        from quantdesk.ledger.outbox import LedgerOutbox
        from quantdesk.live.notifications import desk_notifier, desk_router
        from quantdesk.notify.delivery import drain_outbox

        report = drain_outbox(LedgerOutbox(ledger), desk_notifier(ledger), now=now, route=desk_router(ledger))
        delivery = {"sent": report.sent, "digested": report.digested, "retrying": report.retrying,
                    "failed": report.failed, "skipped": report.skipped}
    return MonitorReport(at=now, audit_ok=verification.ok, audit_entries=verification.checked,
                         checked_series=checked, breaches=tuple(breaches), delivery=delivery,
                         drift_reports=drift_written, var_series=var_series)
