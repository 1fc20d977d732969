"""Prefect flow: the nightly research jobs of quantdesk.toml (thin over `quantdesk.ops.research`).

Each `[[research.jobs]]` entry is swept, walked forward and reported (an HTML report executed
with papermill under `$QUANTDESK_HOME/reports/research/<job>/`). Each job publishes a table
artifact of its headline metrics and a link artifact to its report. A job without data yet
completes with a message saying how to get it; a job naming an unknown strategy or a bad
grid fails the run at its start with that reason, before anything is written.

With a Dask scheduler configured (setting `dask`, env QUANTDESK_DASK) the jobs run at once on
the cluster through Prefect's `DaskTaskRunner`; results are the same as in one process.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from quantdesk.ops.flow_hooks import notify_flow_failure, record_flow_completion
from quantdesk.ops.research import check_job, research_jobs
from quantdesk.ops.research_task import research_job, research_task_runner


@flow(name="research", task_runner=research_task_runner(), on_failure=[notify_flow_failure],
      on_crashed=[notify_flow_failure],
      on_completion=[record_flow_completion])
def research_flow(job: str | None = None) -> list[dict[str, Any]]:
    """Run every research job in quantdesk.toml (or only `job`); see the module doc."""
    from quantdesk.core.settings import get_settings

    logger = get_run_logger()
    jobs = research_jobs(only=job)
    if not jobs:
        logger.info("no research jobs in quantdesk.toml: add a [[research.jobs]] entry (README, Operations)")
        return []
    for found in jobs:
        check_job(found)  # every job's configuration first: a typo fails the run before any work
    if get_settings().dask:
        futures = [research_job.submit(found.name) for found in jobs]
        return [future.result() for future in futures]
    return [research_job(found.name) for found in jobs]


if __name__ == "__main__":
    research_flow()
