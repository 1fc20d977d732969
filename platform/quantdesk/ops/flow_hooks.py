"""Prefect state hooks: a failed or crashed flow run is audited and notified through the outbox.

Used as `@flow(on_failure=[notify_flow_failure], on_crashed=[notify_flow_failure])` by every
flow in `flows/`. The audit entry (`flow.failed`) puts the message in the outbox in the same
transaction; the hook then tries to deliver at once, and the monitor flow (or any later
command) delivers it if that fails. A hook never raises: it must not mask the run's state.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["notify_flow_failure", "record_flow_completion"]

log = logging.getLogger(__name__)


def _record_flow_run(flow: Any, state: Any) -> None:
    from quantdesk.metrics import record_flow_run

    # the flow's code name and Prefect's state type: never a run name (those are generated or typed)
    record_flow_run(flow=getattr(flow, "name", "other"), state=str(getattr(state, "type", "FAILED")).rsplit(".", 1)[-1])


def record_flow_completion(flow: Any, flow_run: Any, state: Any) -> None:
    """Count a flow run that COMPLETED (a Prefect on_completion hook; quantdesk_flow_runs_total)."""
    _record_flow_run(flow, state)


def notify_flow_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Audit and notify a flow run that ended FAILED or CRASHED (a Prefect on_failure/on_crashed hook)."""
    _record_flow_run(flow, state)
    try:
        from quantdesk.cli._notify import deliver_pending
        from quantdesk.ledger import Ledger

        payload = {
            "flow": getattr(flow, "name", str(flow)),
            "flow_run": getattr(flow_run, "name", None) or str(getattr(flow_run, "id", "")),
            "flow_run_id": str(getattr(flow_run, "id", "")),
            "deployment": str(flow_run.deployment_id) if getattr(flow_run, "deployment_id", None) else None,
            "state": str(getattr(state, "type", "FAILED")).rsplit(".", 1)[-1],
            "message": (getattr(state, "message", None) or "")[:500],
        }
        with Ledger() as ledger:
            ledger.audit("prefect", "flow.failed", payload)
        deliver_pending()
    except Exception:  # noqa: BLE001 - never hide the run's own failure behind the hook's
        log.exception("could not record the failure of flow run %s", getattr(flow_run, "id", "?"))
