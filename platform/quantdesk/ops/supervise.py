"""Restart live runs that died: the supervision half of the `live` deployment.

A live flow run whose process died (SIGKILL, a lost machine, a killed worker) stays RUNNING
on the Prefect server, or is marked CRASHED by its worker; Prefect's own flow retries only
cover exceptions raised inside the run. The monitor flow therefore looks at every `live`
flow run and, when its runner is provably gone (RUNNING for longer than a lease period while
the deployment's runner lease in the ledger has lapsed, or CRASHED as the newest run of its
deployment), puts the same flow run back in Prefect's `AwaitingRetry` state, so a worker runs
it again: the restarted runner takes the lapsed lease, reconciles with the venue and only then
trades. Orders are never duplicated because client order ids come from (deployment, bar,
symbol) and intents are recorded before sending; Prefect's result caching plays no part.
A run restarted `max_restarts` times is left alone and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["Restart", "restart_lost_live_runs"]

LIVE_FLOW = "live"


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart:
    """One live flow run the supervisor looked at and what it did."""

    flow_run_id: str
    deployment: str
    reason: str
    restarted: bool
    attempt: int


def restart_lost_live_runs(ledger: Any, *, client: Any = None, now: datetime | None = None,
                           lease_s: float | None = None, max_restarts: int = 5,
                           by: str | None = None) -> list[Restart]:
    """Put dead `live` flow runs back to AwaitingRetry; return what was found (see the module doc).

    `by` is the monitor's own flow run id: the audit entry of a restart names the run that made it.
    """
    from prefect.client.orchestration import get_client

    if client is None:
        with get_client(sync_client=True) as own:
            return restart_lost_live_runs(ledger, client=own, now=now, lease_s=lease_s, max_restarts=max_restarts,
                                          by=by)
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.states import AwaitingRetry

    from quantdesk.ledger.leases import lease_of
    from quantdesk.live.lease import lease_seconds

    now = now or datetime.now(UTC)
    lease_s = lease_s if lease_s is not None else lease_seconds()
    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[LIVE_FLOW])),
        flow_run_filter=FlowRunFilter(state={"type": FlowRunFilterStateType(any_=[
            StateType.RUNNING, StateType.CRASHED, StateType.SCHEDULED, StateType.PENDING, StateType.COMPLETED,
            StateType.FAILED, StateType.CANCELLED])}),
        sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)
    newest: dict[str, Any] = {}
    for run in runs:  # newest first: the first run seen per deployment decides
        name = (run.parameters or {}).get("deployment")
        if name and name not in newest:
            newest[name] = run
    found: list[Restart] = []
    for name, run in sorted(newest.items()):
        state = run.state.type if run.state else None
        reason = None
        if state is StateType.CRASHED:
            reason = f"crashed ({(run.state.message or '').strip()[:200] or 'no message'})"
        elif state is StateType.RUNNING:
            # since this attempt began RUNNING: a restarted run keeps its first start_time, and must not
            # be restarted again by the next scheduled monitor while it waits for its concurrency slot
            started = run.state.timestamp or run.start_time or run.expected_start_time
            lease = lease_of(ledger, name)
            lapsed = lease is None or lease.expires_at <= now
            if started is not None and now - started > timedelta(seconds=lease_s + 5) and lapsed:
                reason = "running without a live runner (its lease lapsed: the process died)"
        if reason is None:
            continue
        attempt = int(run.run_count or 0)
        if attempt > max_restarts:
            found.append(Restart(flow_run_id=str(run.id), deployment=name, reason=reason, restarted=False,
                                 attempt=attempt))
            continue
        client.set_flow_run_state(run.id, AwaitingRetry(scheduled_time=now, message=f"restarted: {reason}"),
                                  force=True)
        ledger.audit("monitor", "flow.restarted", {"flow": LIVE_FLOW, "flow_run": run.name,
                                                   "flow_run_id": str(run.id), "deployment": name,
                                                   "reason": reason, "attempt": attempt + 1,
                                                   "by_flow_run_id": by})
        found.append(Restart(flow_run_id=str(run.id), deployment=name, reason=reason, restarted=True,
                             attempt=attempt + 1))
    return found
