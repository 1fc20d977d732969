"""The desk's schedules on a Prefect server: the monitor's interval, paused deployments' stray runs, queued runs.

Split from prefect_ctl (which starts, deploys and stops): what `flows up` and `flows status` ask
of the scheduler.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from quantdesk.core.errors import ConfigError

__all__ = ["apply_monitor_interval", "monitor_interval_s", "scheduled_runs", "sweep_paused_runs"]


def monitor_interval_s(flows_config: Mapping[str, Any] | None = None) -> int | None:
    """The monitor's interval: `QUANTDESK_MONITOR_INTERVAL_S`, else `[flows] monitor_interval_s`; None keeps prefect.yaml's."""
    raw = os.environ.get("QUANTDESK_MONITOR_INTERVAL_S") or (flows_config or {}).get("monitor_interval_s")
    if raw in (None, ""):
        return None
    try:
        seconds = int(raw)
    except (TypeError, ValueError):
        seconds = 0
    if seconds < 1:
        raise ConfigError(f"monitor interval {raw!r} is not a whole number of seconds >= 1; set "
                          "QUANTDESK_MONITOR_INTERVAL_S (or [flows] monitor_interval_s) to e.g. 300")
    return seconds


# Prefect's scheduler for recently changed deployments loops every 5 s (its default): a pass that
# read a deployment just before `up` paused it can still insert runs after the pause deleted them.
_PAUSE_SETTLE_S = 6.0


def sweep_paused_runs(client: Any) -> None:
    """Delete runs the scheduler queued for paused deployments during the pause (see _PAUSE_SETTLE_S).

    `deploy --all` just updated every deployment, so the recent-deployments scheduler is due to
    schedule them; a run it inserts after the pause would still be picked up by the worker.
    """
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    for settle in (0.0, _PAUSE_SETTLE_S):  # now, and once the scheduler's next pass is over
        time.sleep(settle)
        ids = [d.id for d in client.read_deployments() if d.paused]
        if ids:
            for run in client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids)),
                    flow_run_filter=FlowRunFilter(state={"type": FlowRunFilterStateType(any_=[StateType.SCHEDULED])}),
                    limit=200):
                if run.auto_scheduled:
                    client.delete_flow_run(run.id)


def apply_monitor_interval(client: Any, deployment: Any, seconds: int | None) -> None:
    """Give the monitor's interval schedule `seconds` (prefect.yaml says 300) unless it has it already."""
    from datetime import timedelta

    from prefect.client.schemas.schedules import IntervalSchedule

    if seconds is None:
        return
    for s in deployment.schedules or []:
        interval = getattr(s.schedule, "interval", None)
        if interval is not None and int(interval.total_seconds()) != seconds:
            client.update_deployment_schedule(deployment.id, s.id, schedule=IntervalSchedule(
                interval=timedelta(seconds=seconds), anchor_date=s.schedule.anchor_date,
                timezone=s.schedule.timezone))


def scheduled_runs(client: Any, deployment_ids: list[Any]) -> dict[Any, Any]:
    """The earliest SCHEDULED run of each of `deployment_ids` that has one."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    found: dict[Any, Any] = {}
    for deployment_id in deployment_ids:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(state={"type": FlowRunFilterStateType(any_=[StateType.SCHEDULED])}),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
        if runs:
            found[deployment_id] = runs[0]
    return found
