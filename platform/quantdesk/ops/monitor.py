"""The monitor's checks: audit chain, data freshness of running deployments, and message delivery.

Each breach is stored (a risk event and a `monitor.breach` audit entry, whose message the
outbox carries in the same transaction) and returned in the report, so a scheduled run both
tells people and leaves evidence. The outbox is drained at the end: whatever an exited process
left undelivered goes out here.
Not yet here: reconciling each venue with running deployments and the daily drift report.
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

    @property
    def ok(self) -> bool:
        return not self.breaches


def _freshness(ledger: Ledger, lake: Any, now: datetime) -> tuple[int, list[Breach]]:
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
                last = lake.candles(symbol, d.timeframe, start=now - 50 * limit, exchange=exchange)["ts"].max()
            except LakeError:
                last = None
            if last is None or now - last > limit:
                seen = "no candles" if last is None else f"newest candle {last:%Y-%m-%d %H:%M}"
                breaches.append(Breach(code="DATA_STALE", deployment=d.name, symbol=symbol,
                                       detail=f"{seen}, more than {STALE_BARS} {d.timeframe} bars before {now:%Y-%m-%d %H:%M}; "
                                              "check the venue feed and the runner"))
    return checked, breaches


def run_monitor(ledger: Ledger, *, lake: Any = None, now: datetime | None = None, deliver: bool = True) -> MonitorReport:
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
                         checked_series=checked, breaches=tuple(breaches), delivery=delivery)
