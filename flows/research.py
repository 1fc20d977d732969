"""Prefect flow: the nightly research jobs of quantdesk.toml (thin over `quantdesk.ops.research`).

Each `[[research.jobs]]` entry is swept, walked forward and reported (an HTML report executed
with papermill under `$QUANTDESK_HOME/reports/research/<job>/`). Each job publishes a table
artifact of its headline metrics and a link artifact to its report. A job without data yet
completes with a message saying how to get it; a job naming an unknown strategy or a bad
grid fails the run at its start with that reason, before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from quantdesk.ops.flow_hooks import notify_flow_failure
from quantdesk.ops.research import check_job, research_jobs, run_research_job


def _key(text: str) -> str:
    # artifact keys: lowercase letters, digits and dashes only
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


@task(name="research-job", retries=0, cache_policy=NO_CACHE)
def research_job(name: str) -> dict[str, Any]:
    """Run one job and publish its artifacts; return its outcome as JSON-ready data."""
    from quantdesk.core.jsonable import to_jsonable

    [job] = research_jobs(only=name)
    outcome = run_research_job(job)
    logger = get_run_logger()
    logger.info(outcome.message)
    if outcome.status == "completed":
        row = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in outcome.headline.items()}
        create_table_artifact(key=f"research-{_key(job.name)}", table=[row],
                              description=f"Headline metrics of research job {job.name}")
        if outcome.report is not None:
            create_link_artifact(key=f"research-{_key(job.name)}-report", link=outcome.report.as_uri(),
                                 link_text=f"{job.name} report ({outcome.report.name})",
                                 description=f"HTML report of research job {job.name}")
    else:
        create_markdown_artifact(key=f"research-{_key(job.name)}", markdown=f"**{job.name}**: {outcome.message}",
                                 description=f"Research job {job.name}: nothing to do")
    return to_jsonable(outcome)


@flow(name="research", on_failure=[notify_flow_failure], on_crashed=[notify_flow_failure])
def research_flow(job: str | None = None) -> list[dict[str, Any]]:
    """Run every research job in quantdesk.toml (or only `job`); see the module doc."""
    logger = get_run_logger()
    jobs = research_jobs(only=job)
    if not jobs:
        logger.info("no research jobs in quantdesk.toml: add a [[research.jobs]] entry (README, Operations)")
        return []
    for found in jobs:
        check_job(found)  # every job's configuration first: a typo fails the run before any work
    return [research_job(found.name) for found in jobs]


if __name__ == "__main__":
    research_flow()
