"""The research flow under prefect_test_harness: jobs from quantdesk.toml, a report, artifacts, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.core.errors import ConfigError
from quantdesk.core.settings import config_path
from quantdesk.lake import Lake, write_sample
from quantdesk.ops.research import ResearchJob, research_jobs, run_research_job

from .conftest import load_flow

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("prefect-harness")]

JOB = {"name": "sma-btc", "strategy": "sma_cross", "grid": ["fast=3:12:3", "slow=24:48:12"],
       "symbols": ["BTC/USDT"], "timeframe": "1h", "train": "4d", "test": "2d"}


def _jobs(*jobs: dict) -> None:
    path = config_path()
    text = "".join("[[research.jobs]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in job.items()) for job in jobs)
    path.write_text(text)


def _toml(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def _lake_files(home: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (home / "lake").rglob("*.parquet")}


def test_jobs_come_from_quantdesk_toml_and_bad_entries_name_the_entry_and_the_fix(quantdesk_home: Path) -> None:
    _jobs(JOB, {**JOB, "name": "eth", "symbols": ["ETH/USDT"]})
    assert [j.name for j in research_jobs()] == ["sma-btc", "eth"]
    with pytest.raises(ConfigError, match="no research job 'x' in quantdesk.toml \\(known: sma-btc, eth\\)"):
        research_jobs(only="x")
    _jobs({**JOB, "colour": "red"})
    with pytest.raises(ConfigError, match="entry 1 has unknown keys \\['colour'\\]"):
        research_jobs()
    _jobs({k: v for k, v in JOB.items() if k != "grid"})
    with pytest.raises(ConfigError, match="entry 1 lacks grid"):
        research_jobs()


def test_a_job_report_is_the_executed_notebook_with_the_stored_runs(quantdesk_home: Path) -> None:
    write_sample(Lake(), symbols=1, days=20)
    outcome = run_research_job(ResearchJob.from_config(JOB, 0))
    assert outcome.status == "completed" and outcome.report is not None
    html = outcome.report.read_text()
    # papermill injected the ids; the notebook read the stored runs and drew them
    assert outcome.sweep_id in html and "walk-forward total return (out of sample)" in html
    assert html.count("data:image/png;base64") >= 2, "heatmap and out-of-sample equity as embedded images"
    assert outcome.report.parent == quantdesk_home / "reports" / "research" / "sma-btc"
    assert outcome.headline["combinations"] == 12 and outcome.headline["bars"] == 479


def test_research_flow_publishes_artifacts_and_a_job_without_data_completes_with_a_message(
    quantdesk_home: Path, prefect_harness: None,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    write_sample(Lake(), symbols=1, days=20)
    _jobs(JOB, {**JOB, "name": "eth-later", "symbols": ["ETH/USDT"]})
    flow = load_flow("research")
    outcomes = flow.research_flow()
    assert [o["status"] for o in outcomes] == ["completed", "no_data"]
    assert "no 1h candles of ETH/USDT" in outcomes[1]["message"] and "ingest them first" in outcomes[1]["message"]
    with get_client(sync_client=True) as client:
        table = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["research-sma-btc"])))
        link = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["research-sma-btc-report"])))
    assert table and table[0].type == "table" and "deflated_sharpe" in str(table[0].data)
    assert link and Path(outcomes[0]["report"]).as_uri() in str(link[0].data)


def test_research_flow_with_a_bad_job_fails_at_its_start_and_writes_nothing(
    quantdesk_home: Path, prefect_harness: None,
) -> None:
    write_sample(Lake(), symbols=1, days=20)
    before = _lake_files(quantdesk_home)
    _jobs(JOB, {**JOB, "name": "typo", "strategy": "sma_crosss"})
    flow = load_flow("research")
    state = flow.research_flow(return_state=True)
    assert state.is_failed()
    assert "research job 'typo'" in state.message and "sma_crosss" in state.message
    assert not (quantdesk_home / "runs").exists() or not any((quantdesk_home / "runs").iterdir()), "no job ran"
    assert not (quantdesk_home / "reports" / "research").exists()
    assert _lake_files(quantdesk_home) == before


def test_research_flow_without_jobs_completes_and_says_how_to_add_one(
    quantdesk_home: Path, prefect_harness: None,
) -> None:
    flow = load_flow("research")
    state = flow.research_flow(return_state=True)
    assert state.is_completed() and state.result() == []



def test_with_a_dask_scheduler_the_research_flow_runs_its_jobs_on_the_cluster(
    quantdesk_home: Path, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect's DaskTaskRunner on a real scheduler and two workers: jobs spread, results as in one process."""
    import os

    from prefect.settings import PREFECT_API_URL

    from ..dask_cluster import dask_cluster

    write_sample(Lake(), symbols=2, days=20)
    jobs = [JOB, {**JOB, "name": "eth", "symbols": ["ETH/USDT"], "grid": ["fast=4:8:2", "slow=24:36:12"]}]
    _jobs(*jobs)
    here = {j["name"]: run_research_job(ResearchJob.from_config(j, 0), report=False).headline for j in jobs}
    # the workers report task runs to this test's Prefect server and read this test's lake
    env = {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "QUANTDESK_HOME": os.environ["QUANTDESK_HOME"],
           "QUANTDESK_CONFIG": os.environ["QUANTDESK_CONFIG"], "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    (tmp_path / "dask").mkdir()
    with dask_cluster(tmp_path / "dask", env=env) as address:
        monkeypatch.setenv("QUANTDESK_DASK", address)
        flow = load_flow("research")
        assert type(flow.research_flow.task_runner).__name__ == "DaskTaskRunner"
        outcomes = flow.research_flow()
    assert [o["status"] for o in outcomes] == ["completed", "completed"]
    workers = {o["worker"] for o in outcomes}
    assert None not in workers and len(workers) == 2, f"each job on a worker of its own: {workers}"
    for outcome in outcomes:
        there = outcome["headline"]
        ours = here[outcome["job"]]
        for key in ("combinations", "bars", "best_params", "best_sharpe", "best_total_return", "deflated_sharpe",
                    "pbo", "oos_total_return", "oos_sharpe"):
            assert there[key] == ours[key], key
        assert Path(outcome["report"]).is_file()
