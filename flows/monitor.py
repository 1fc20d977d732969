"""Prefect flow: the desk's monitor (thin orchestration over `quantdesk.ops.run_monitor`).

Every few minutes: verify the audit chain, check that running deployments' candles are fresh,
store and notify each breach, and deliver whatever the notification outbox still holds.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from quantdesk.ledger import Ledger
from quantdesk.ops import run_monitor


@flow(name="monitor")
def monitor_flow() -> dict[str, Any]:
    """Run the monitor's checks once; fail the run (so Prefect shows it) when the audit chain is broken."""
    from quantdesk.cli._common import to_jsonable

    logger = get_run_logger()
    with Ledger() as ledger:
        report = run_monitor(ledger)
    for breach in report.breaches:
        logger.warning("%s %s %s: %s", breach.code, breach.deployment or "", breach.symbol or "", breach.detail)
    logger.info("audit chain %s (%d entries), %d series checked, delivery %s",
                "ok" if report.audit_ok else "BROKEN", report.audit_entries, report.checked_series, report.delivery)
    if not report.audit_ok:
        raise RuntimeError("the audit chain is broken: see the breach stored in the ledger")
    return to_jsonable(report)


if __name__ == "__main__":
    monitor_flow()
