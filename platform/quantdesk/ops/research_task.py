"""The research flow's task and task runner (flows/research.py is the thin flow over these).

The task lives in the package, not in the flow file, so a Dask worker can import it by name:
with a Dask scheduler configured (setting `dask`, env QUANTDESK_DASK) the flow runs on Prefect's
`DaskTaskRunner`, one task per job spread over the cluster's workers, and each job's sweep and
walk-forward run on the worker that got it (a task does not open a second client to the cluster
it runs on). Without one, jobs run one after another in the flow's process, as before.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

__all__ = ["research_job", "research_task_runner"]


def _key(text: str) -> str:
    # artifact keys: lowercase letters, digits and dashes only
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def research_task_runner(address: str | None = None) -> TaskRunner:
    """Return Prefect's `DaskTaskRunner` on `address` (default: the setting `dask`), or the default runner."""
    from quantdesk.core.settings import get_settings

    address = address if address is not None else get_settings().dask
    if not address:
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address)


def _worker() -> str | None:
    """Return the address of the Dask worker running this code, or None outside one."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # ValueError: not on a worker
        return None


@task(name="research-job", retries=0, cache_policy=NO_CACHE)
def research_job(name: str) -> dict[str, Any]:
    """Run one job and publish its artifacts; return its outcome as JSON-ready data (with `worker`)."""
    from quantdesk.core.jsonable import to_jsonable
    from quantdesk.ops.research import research_jobs, run_research_job

    [job] = research_jobs(only=name)
    worker = _worker()
    outcome = run_research_job(job, dask="" if worker else None)
    logger = get_run_logger()
    logger.info(outcome.message + (f" (on Dask worker {worker})" if worker else ""))
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
    return {**to_jsonable(outcome), "worker": worker}
