"""Sweeps and walk-forward on a Dask cluster (`dask.distributed`): one task per chunk of combinations.

The candles go to every worker once (`Client.scatter(..., broadcast=True)`); each task loads
the strategy by its reference (a built-in's name, or `path/to/file.py:Class`, so a worker
needs the same files at the same paths: a shared checkout or volume) and runs its chunk on
the path a local run takes: for a sweep the fused moving-average kernel, the generic target
kernel or vectorbt (multi-asset); for a walk-forward window what `walk_forward` does locally.
Every combination's metrics depend on that combination alone, so a distributed run equals
the local one value for value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError

__all__ = ["DaskSweeper", "run_chunk"]


def run_chunk(strategy_ref: str, frames: dict[str, pl.DataFrame], combos: list[dict[str, Any]], *,
              timeframe: str, timeframe_ms: int, n_blocks: int, metric_columns: Sequence[str] | None,
              engine: str = "auto", bars: tuple[int, int] | None = None,
              **engine_kw: Any) -> tuple[dict[str, np.ndarray], np.ndarray | None, str]:
    """Run one chunk of combinations (on a worker); return metric columns, block stats and who ran it.

    With `bars` the chunk is a walk-forward window's training slice (no block stats).
    """
    from quantdesk.backtest.combo_runs import backtest_rows, window_metrics
    from quantdesk.backtest.data import resolve_data
    from quantdesk.backtest.sweep_fast import fast_path_for
    from quantdesk.backtest.sweep_targets import target_path_for
    from quantdesk.strategies import load_strategy

    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = "local"
    cls = load_strategy(strategy_ref)
    if bars is not None:
        cash = engine_kw.pop("initial_cash")
        out = window_metrics(cls, frames, fast_path_for(cls, frames), combos, slice(*bars), timeframe_ms, cash, engine_kw)
        return {k: out[k] for k in (metric_columns or out)}, None, where
    path = None if engine == "vectorbt" else (fast_path_for(cls, frames) or target_path_for(cls, frames))
    if path is not None:
        metrics, blocks = path.run(combos, timeframe_ms=timeframe_ms, n_blocks=n_blocks, **engine_kw)
        return {k: metrics[k] for k in (metric_columns or metrics)}, blocks, where
    _, snapshot = resolve_data(frames, timeframe=timeframe)
    rows, blocks = backtest_rows(cls, frames, combos, snapshot=snapshot, n_blocks=n_blocks, on_progress=None,
                                  **engine_kw)
    return {k: np.array([row[k] for row in rows]) for k in (metric_columns or rows[0])}, blocks, where


class DaskSweeper:
    """A connection to a Dask scheduler with one strategy's candles on every worker.

    `with DaskSweeper(address, ref, frames) as dask: metrics, blocks = dask.run(combos, ...)`.
    """

    def __init__(self, address: str, strategy_ref: str, frames: dict[str, pl.DataFrame], *,
                 connect_timeout_s: float = 10.0) -> None:
        self.address, self.strategy_ref, self.frames = address, strategy_ref, frames
        self.connect_timeout_s = connect_timeout_s
        self.workers_used: set[str] = set()
        self._client: Any = None
        self._shared: Any = None

    def __enter__(self) -> DaskSweeper:
        from distributed import Client

        try:
            self._client = Client(self.address, timeout=f"{self.connect_timeout_s}s")
        except OSError as e:
            raise BacktestError(f"no Dask scheduler answers at {self.address} ({e}); start one (`dask scheduler`) "
                                "and workers (`dask worker ADDRESS`), or drop --dask to run here") from e
        self._shared = self._client.scatter(self.frames, broadcast=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, combos: list[dict[str, Any]], *, timeframe: str, timeframe_ms: int, n_blocks: int,
            metric_columns: Sequence[str] | None, engine: str = "auto", bars: tuple[int, int] | None = None,
            on_progress: Callable[[int], None] | None = None,
            **engine_kw: Any) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Run `combos` in chunks on the cluster; return metric columns and block stats in `combos` order."""
        from distributed import as_completed

        workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        # a few chunks per worker: balanced when combinations cost differently, small per-task overhead
        size = max(1, -(-len(combos) // (4 * workers)))
        futures = {}
        for lo in range(0, len(combos), size):
            future = self._client.submit(
                run_chunk, self.strategy_ref, self._shared, combos[lo:lo + size], timeframe=timeframe,
                timeframe_ms=timeframe_ms, n_blocks=n_blocks,
                metric_columns=None if metric_columns is None else tuple(metric_columns), engine=engine, bars=bars,
                pure=False, **engine_kw)
            futures[future] = lo
        metrics: dict[str, np.ndarray] = {}
        blocks = None if bars is not None else np.empty((len(combos), n_blocks, 2))
        for future in as_completed(futures):
            columns, chunk_blocks, where = future.result()
            lo = futures[future]
            n = len(next(iter(columns.values())))
            for k, values in columns.items():
                if k not in metrics:  # the first chunk back says each column's type
                    metrics[k] = np.empty(len(combos), dtype=np.asarray(values).dtype)
                metrics[k][lo:lo + n] = values
            if blocks is not None and chunk_blocks is not None:
                blocks[lo:lo + n] = chunk_blocks
            self.workers_used.add(where)
            if on_progress is not None:
                on_progress(n)
        return metrics, blocks
