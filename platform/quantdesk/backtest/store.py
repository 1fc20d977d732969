"""The run store: every backtest (and sweep) is kept under `QUANTDESK_HOME/runs/<run_id>/`.

A run folder holds `run.json` (what ran: strategy, code hash, params, data snapshot, cost
model, metrics, lookahead verdict) and Parquet tables (equity, positions, trades, orders
and, when the candles did not come from the lake, the candles themselves), so a run can be
reproduced from what is stored. Folders are written under a temporary name and renamed,
so readers never see half a run.

Other run kinds (sweeps, walk-forwards) use `save_run(kind, record, tables)`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import polars as pl

from quantdesk.backtest.metrics import Metrics
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import BacktestError
from quantdesk.core.settings import get_settings

__all__ = [
    "StoredRun",
    "list_runs",
    "load_run",
    "runs_root",
    "save_backtest",
    "save_run",
]

_RECORD = "run.json"


def runs_root() -> Path:
    """Return `QUANTDESK_HOME/runs` (created on first write)."""
    return get_settings().runs_dir


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _new_run_id(kind: str, clock: Clock) -> str:
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    return f"{kind}-{stamp}-{uuid.uuid4().hex[:6]}"


def save_run(
    kind: str,
    record: dict[str, Any],
    tables: dict[str, pl.DataFrame] | None = None,
    *,
    clock: Clock | None = None,
    root: Path | None = None,
) -> str:
    """Store a run of `kind` ("backtest", "sweep", "walkforward", ...) and return its run id.

    `record` must be JSON-serialisable (non-finite floats become null); `tables` are written
    as `<name>.parquet`. `run_id`, `kind` and `created_at` are added to the record.
    """
    if not kind.isidentifier():
        raise BacktestError(f"run kind {kind!r} must be a plain word like 'backtest' or 'sweep'")
    clock = clock or SystemClock()
    root = root or runs_root()
    root.mkdir(parents=True, exist_ok=True)
    run_id = _new_run_id(kind, clock)
    full = {"run_id": run_id, "kind": kind, "created_at": clock.now().isoformat(), **record}
    tmp = root / f".tmp-{run_id}"
    tmp.mkdir()
    try:
        for name, frame in (tables or {}).items():
            frame.write_parquet(tmp / f"{name}.parquet")
        (tmp / _RECORD).write_text(json.dumps(_jsonable(full), indent=2))
        os.replace(tmp, root / run_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_id


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A stored run: its record (run.json) and lazy access to its tables."""

    run_id: str
    path: Path
    record: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.record.get("kind", ""))

    @property
    def metrics(self) -> Metrics:
        """Return the stored metrics of a backtest run."""
        return Metrics.from_json(self.record["metrics"])

    def tables(self) -> list[str]:
        """Return the names of the stored tables."""
        return sorted(p.stem for p in self.path.glob("*.parquet"))

    def table(self, name: str) -> pl.DataFrame:
        """Return a stored table (e.g. "equity", "trades", "positions", "orders")."""
        path = self.path / f"{name}.parquet"
        if not path.exists():
            raise BacktestError(f"run {self.run_id} has no table {name!r}; it has {self.tables()}")
        return pl.read_parquet(path)


def load_run(run_id: str, *, root: Path | None = None) -> StoredRun:
    """Return the stored run `run_id`; raise BacktestError naming how to list runs if absent."""
    root = root or runs_root()
    path = root / run_id
    if "/" in run_id or run_id.startswith(".") or not (path / _RECORD).exists():
        raise BacktestError(f"no run {run_id!r} under {root}; list runs with quantdesk.backtest.list_runs()")
    return StoredRun(run_id=run_id, path=path, record=json.loads((path / _RECORD).read_text()))


_SUMMARY_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate")


def list_runs(kind: str | None = None, *, root: Path | None = None) -> pl.DataFrame:
    """Return one row per stored run (newest first): id, kind, time, strategy, params, headline metrics."""
    root = root or runs_root()
    rows = []
    for path in sorted(root.glob(f"{kind or '*'}-*")) if root.exists() else []:
        record_path = path / _RECORD
        if path.name.startswith(".") or not record_path.exists():
            continue
        rec = json.loads(record_path.read_text())
        metrics = rec.get("metrics") or {}
        snap = rec.get("snapshot") or {}
        rows.append({
            "run_id": rec["run_id"],
            "kind": rec.get("kind"),
            "created_at": rec.get("created_at"),
            "strategy": rec.get("strategy"),
            "params": json.dumps(rec.get("params") or {}, sort_keys=True),
            "symbols": ",".join(snap.get("symbols") or []),
            "timeframe": snap.get("timeframe"),
            **{m: (float(metrics[m]) if metrics.get(m) is not None else None) for m in _SUMMARY_METRICS},
        })
    schema = {"run_id": pl.String, "kind": pl.String, "created_at": pl.String, "strategy": pl.String,
              "params": pl.String, "symbols": pl.String, "timeframe": pl.String,
              **{m: pl.Float64 for m in _SUMMARY_METRICS}}
    return pl.DataFrame(rows, schema=schema).sort("created_at", "run_id", descending=True)


def save_backtest(result: Any, *, frames: dict[str, pl.DataFrame] | None = None, clock: Clock | None = None) -> Any:
    """Store a `BacktestResult` and return it with its `run_id` set.

    The candles are stored with the run unless they came from the lake (then the snapshot's
    query and checksum are enough to read and verify them again).
    """
    from dataclasses import replace

    record = {
        "strategy": result.strategy,
        "strategy_ref": result.strategy_ref,
        "params": result.params,
        "code_hash": result.code_hash,
        "snapshot": asdict(result.snapshot),
        "cost": asdict(result.cost),
        "rules": asdict(result.rules),
        "initial_cash": result.initial_cash,
        "allow_short": result.allow_short,
        "rebalance": result.rebalance,
        "metrics": result.metrics.to_json(),
        "lookahead": asdict(result.lookahead) if result.lookahead is not None else None,
    }
    extra_tables = {k: v for k, v in result.extra.items() if isinstance(v, pl.DataFrame)}
    if result.extra:  # e.g. a futures run's market, leverage, funding and liquidations
        from quantdesk.core.jsonable import to_jsonable

        record["extra"] = to_jsonable({k: v for k, v in result.extra.items() if k not in extra_tables})
    tables = {
        "equity": result.equity,
        "positions": result.positions,
        "trades": result.trades,
        "orders": result.orders,
        **extra_tables,
    }
    if frames is not None and result.snapshot.source != "lake":
        tables["candles"] = pl.concat(
            [f.with_columns(pl.lit(s).alias("symbol")) for s, f in frames.items()], how="vertical"
        )
    run_id = save_run("backtest", record, tables, clock=clock)
    return replace(result, run_id=run_id)
