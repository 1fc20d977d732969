"""Prefect flow: the desk's monitor (thin orchestration over `quantdesk.ops`).

Every few minutes: verify the audit chain, check that running deployments' candles are fresh,
reconcile venues with running live deployments, write each running deployment's daily drift
report, store and notify each breach, restart `live` runs whose process died, write the daily desk
report once a day (the weekly one on Mondays), and deliver what the notification outbox still holds.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from quantdesk.ops.flow_hooks import notify_flow_failure, record_flow_completion


@flow(name="monitor", on_failure=[notify_flow_failure], on_crashed=[notify_flow_failure],
      on_completion=[record_flow_completion])
def monitor_flow(supervise: bool = True) -> dict[str, Any]:
    """Run the monitor's checks once; fail the run (so Prefect shows it) when the audit chain is broken."""
    from prefect.runtime import flow_run

    from quantdesk.core.jsonable import to_jsonable
    from quantdesk.ledger import Ledger
    from quantdesk.live.schedule import clock_from_env
    from quantdesk.ops import run_monitor
    from quantdesk.ops.reports import scheduled_desk_reports
    from quantdesk.ops.supervise import restart_lost_live_runs

    logger = get_run_logger()
    with Ledger(clock=clock_from_env()) as ledger:  # the desk's clock (scaled in rehearsals)
        # the audit entry of each restart names this run (scheduled or triggered: the run's page says which)
        restarts = restart_lost_live_runs(ledger, by=flow_run.get_id()) if supervise else []
        report = run_monitor(ledger)
        written = scheduled_desk_reports(ledger)
    for r in restarts:
        log = logger.warning if r.restarted else logger.error
        log("live run %s of %s: %s; %s", r.flow_run_id, r.deployment, r.reason,
            f"restarted (attempt {r.attempt})" if r.restarted else f"NOT restarted after {r.attempt} attempts")
    for breach in report.breaches:
        logger.warning("%s %s %s: %s", breach.code, breach.deployment or "", breach.symbol or "", breach.detail)
    logger.info("audit chain %s (%d entries), %d series checked, %d drift reports, delivery %s",
                "ok" if report.audit_ok else "BROKEN", report.audit_entries, report.checked_series,
                report.drift_reports, report.delivery)
    for event in report.var_series.get("events", ()):
        logger.warning("VAR_BREACH %s", event.get("detail"))
    if not report.audit_ok:
        raise RuntimeError("the audit chain is broken: see the breach stored in the ledger")
    for path in written:
        logger.info("desk report written: %s", path)
    return {**to_jsonable(report), "restarts": to_jsonable(restarts), "desk_reports": [str(p) for p in written]}


if __name__ == "__main__":
    monitor_flow()
