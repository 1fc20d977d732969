"""Research jobs: the nightly sweep, walk-forward and report of each `[[research.jobs]]` entry.

A job names a strategy, a grid, symbols and a timeframe (quantdesk.toml):

    [[research.jobs]]
    name = "sma-btc-1h"
    strategy = "sma_cross"
    grid = ["fast=3:24:3", "slow=12:96:12"]
    symbols = ["BTC/USDT"]
    timeframe = "1h"
    exchange = "synthetic"   # optional: the only exchange holding the symbols
    train = "30d"            # walk-forward windows
    test = "10d"
    lookback = "365d"        # optional: only the newest part of the lake

`run_research_job` sweeps, walks forward (both stored as runs) and executes the report
notebook with papermill (the run ids injected as parameters) into
`$QUANTDESK_HOME/reports/research/<job>/<stamp>.html`. A job whose candles are not in the
lake yet completes with status `no_data` and a message that says how to get them; a job
that names an unknown strategy or a malformed grid fails before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from quantdesk.core.errors import ConfigError, LakeError

__all__ = ["ResearchJob", "ResearchOutcome", "check_job", "research_jobs", "run_research_job"]

REPORT_NOTEBOOK = Path(__file__).resolve().parents[3] / "research" / "reports" / "research_job.ipynb"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELDS = {"name", "strategy", "grid", "symbols", "timeframe", "exchange", "train", "test", "lookback", "metric",
           "fee_bps", "notebook"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResearchJob:
    """One nightly research job from quantdesk.toml."""

    name: str
    strategy: str
    grid: tuple[str, ...]
    symbols: tuple[str, ...]
    timeframe: str
    exchange: str | None = None
    train: str = "90d"
    test: str = "30d"
    lookback: str | None = None
    metric: str = "sharpe"
    fee_bps: float = 10.0
    notebook: Path = REPORT_NOTEBOOK

    @classmethod
    def from_config(cls, raw: dict[str, Any], index: int) -> ResearchJob:
        """Build a job from one `[[research.jobs]]` table; ConfigError naming the entry and the fix."""
        where = f"[[research.jobs]] entry {index + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} is not a table; write it as [[research.jobs]] with name = ... lines")
        unknown = sorted(set(raw) - _FIELDS)
        if unknown:
            raise ConfigError(f"{where} has unknown keys {unknown}; allowed: {sorted(_FIELDS)}")
        missing = [k for k in ("name", "strategy", "grid", "symbols", "timeframe") if not raw.get(k)]
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(missing)}; e.g. name = \"sma-btc\", strategy = \"sma_cross\", "
                              "grid = [\"fast=5:50:5\", \"slow=20:200:20\"], symbols = [\"BTC/USDT\"], timeframe = \"1h\"")
        name = str(raw["name"])
        if not _NAME.match(name):
            raise ConfigError(f"{where}: name {name!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
        grid, symbols = raw["grid"], raw["symbols"]
        if isinstance(grid, str) or isinstance(symbols, str):
            raise ConfigError(f"{where} ({name}): grid and symbols are lists, e.g. symbols = [\"BTC/USDT\"]")
        notebook = Path(raw["notebook"]).expanduser() if raw.get("notebook") else REPORT_NOTEBOOK
        return cls(name=name, strategy=str(raw["strategy"]), grid=tuple(map(str, grid)),
                   symbols=tuple(map(str, symbols)), timeframe=str(raw["timeframe"]), exchange=raw.get("exchange"),
                   train=str(raw.get("train", "90d")), test=str(raw.get("test", "30d")), lookback=raw.get("lookback"),
                   metric=str(raw.get("metric", "sharpe")), fee_bps=float(raw.get("fee_bps", 10.0)),
                   notebook=notebook)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResearchOutcome:
    """What one job did: `completed` (with runs and a report) or `no_data` (with the reason)."""

    job: str
    status: str
    message: str
    sweep_id: str | None = None
    walkforward_id: str | None = None
    report: Path | None = None
    headline: dict[str, Any] = field(default_factory=dict)


def research_jobs(settings: Any = None, *, only: str | None = None) -> list[ResearchJob]:
    """Return the jobs in quantdesk.toml (`only`: just that one; ConfigError listing the known ones)."""
    from quantdesk.core.settings import get_settings

    settings = settings or get_settings()
    raw = (settings.research or {}).get("jobs", [])
    if not isinstance(raw, list):
        raise ConfigError("research.jobs must be an array of tables: write each job as [[research.jobs]]")
    jobs = [ResearchJob.from_config(r, i) for i, r in enumerate(raw)]
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ConfigError(f"[[research.jobs]] names repeat ({names}); give each job its own name")
    if only is not None:
        jobs = [j for j in jobs if j.name == only]
        if not jobs:
            raise ConfigError(f"no research job {only!r} in quantdesk.toml (known: {', '.join(names) or 'none'})")
    return jobs


def check_job(job: ResearchJob) -> None:
    """Fail fast, before anything is written, on what no amount of data fixes: strategy, grid, timeframe, windows."""
    from quantdesk.backtest.grid import expand_grid, parse_grid
    from quantdesk.backtest.walkforward import parse_duration_ms
    from quantdesk.core.timeframes import timeframe_ms
    from quantdesk.strategies import load_strategy

    prefix = f"research job {job.name!r}"
    try:
        strategy_cls = load_strategy(job.strategy)
        timeframe_ms(job.timeframe)
        grid = parse_grid(list(job.grid))
        combos, _ = expand_grid(strategy_cls, grid)
        for window in (job.train, job.test, *([job.lookback] if job.lookback else [])):
            parse_duration_ms(window)
    except Exception as e:  # the library's errors already say what is wrong; add which job
        raise ConfigError(f"{prefix}: {e}") from e
    if not combos:
        raise ConfigError(f"{prefix}: no valid combination in grid {list(job.grid)}; check the ranges")
    if not job.notebook.exists():
        raise ConfigError(f"{prefix}: report notebook {job.notebook} does not exist; fix `notebook =` or remove it")


def _query(job: ResearchJob, lake: Any, now: datetime) -> tuple[Any, str | None]:
    """Return the LakeQuery of the job, or None and why there is nothing to do yet."""
    from quantdesk.backtest import LakeQuery
    from quantdesk.backtest.walkforward import parse_duration_ms

    start = None
    if job.lookback:
        start = (now - timedelta(milliseconds=parse_duration_ms(job.lookback))).strftime("%Y-%m-%dT%H:%M")
    # any stored timeframe will do: the lake resamples finer candles to the job's timeframe
    held = {(ex, sym) for ex, sym, _tf in lake.series()}
    missing = [s for s in job.symbols if not any(sym == s and job.exchange in (None, ex) for ex, sym in held)]
    if missing:
        where = f"exchange {job.exchange!r}" if job.exchange else "any exchange"
        return None, (f"no {job.timeframe} candles of {', '.join(missing)} from {where} in the lake yet; "
                      f"ingest them first (`quantdesk ingest ...` or the ingest deployment)")
    return LakeQuery.of(list(job.symbols), job.timeframe, exchange=job.exchange, start=start), None


def _execute_report(job: ResearchJob, parameters: dict[str, Any], out_dir: Path, stamp: str) -> Path:
    """Execute the report notebook with papermill and render it to standalone HTML (inputs hidden)."""
    from quantdesk.reports.notebook import render_notebook

    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_notebook(job.notebook, out_dir / f"{stamp}.ipynb", out_dir / f"{stamp}.html", parameters)
    return html


def run_research_job(job: ResearchJob, *, lake: Any = None, now: datetime | None = None,
                     reports_dir: Path | None = None, report: bool = True, dask: str | None = None) -> ResearchOutcome:
    """Sweep and walk-forward `job` on the lake, then write its HTML report; see the module doc.

    `dask` is passed to the sweep and the walk-forward (None: the setting; "": run here, as a
    job that already runs on a Dask worker does).
    """
    from quantdesk.backtest import sweep, walk_forward
    from quantdesk.core.clock import SystemClock
    from quantdesk.core.costs import CostModel
    from quantdesk.core.settings import get_settings
    from quantdesk.lake import Lake

    check_job(job)
    lake = lake or Lake()
    now = now or SystemClock().now()
    query, missing = _query(job, lake, now)
    if query is None:
        return ResearchOutcome(job=job.name, status="no_data", message=f"{job.name}: nothing to do: {missing}")
    cost = CostModel(fee_bps=job.fee_bps)
    try:
        swept = sweep(job.strategy, query, grid=list(job.grid), cost=cost, metric=job.metric, lake=lake, dask=dask)
        walked = walk_forward(job.strategy, query, grid=list(job.grid), train=job.train, test=job.test,
                              metric=job.metric, cost=cost, lake=lake, dask=dask)
    except LakeError as e:
        return ResearchOutcome(job=job.name, status="no_data", message=f"{job.name}: nothing to do: {e}")
    best = swept.results.row(0, named=True)
    over = swept.overfitting
    headline = {
        "job": job.name, "strategy": job.strategy, "symbols": ", ".join(job.symbols), "timeframe": job.timeframe,
        "bars": swept.snapshot.bars, "combinations": swept.n_combinations,
        "best_params": ", ".join(f"{k}={best[k]}" for k in swept.param_names),
        f"best_{job.metric}": best.get(job.metric), "best_total_return": best.get("total_return"),
        "deflated_sharpe": None if over is None else over.deflated_sharpe,
        "pbo": None if over is None else over.pbo,
        "oos_total_return": walked.metrics.get("total_return"), "oos_sharpe": walked.metrics.get("sharpe"),
        "sweep_id": swept.sweep_id, "walkforward_id": walked.run_id,
    }
    path = None
    if report:
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        out_dir = (reports_dir or get_settings().reports_dir) / "research" / job.name
        path = _execute_report(job, {"job": job.name, "sweep_id": swept.sweep_id,
                                     "walkforward_id": walked.run_id, "runs_root": str(get_settings().runs_dir)},
                               out_dir, stamp)
    return ResearchOutcome(job=job.name, status="completed", sweep_id=swept.sweep_id, walkforward_id=walked.run_id,
                           report=path, headline=headline,
                           message=f"{job.name}: {swept.n_combinations} combinations on {swept.snapshot.bars} bars; "
                                   f"best {headline['best_params']}; out-of-sample return "
                                   f"{headline['oos_total_return']}")
