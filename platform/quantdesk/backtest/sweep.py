"""Parameter sweeps: every combination's metrics, ranked, stored, with overfitting statistics.

Built-in strategies with a fused kernel (`sma_cross`, `ema_cross`) run on the numba fast
path of `quantdesk.backtest.kernels`; any other strategy falls back to the vectorbt engine
one combination at a time. Both give the metrics of `quantdesk.backtest.metrics` under the
execution semantics of `quantdesk.backtest.engine`. Combinations are processed in chunks,
so memory stays bounded however wide the grid.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.combo_runs import backtest_rows
from quantdesk.backtest.data import DataSnapshot, LakeQuery, resolve_data
from quantdesk.backtest.grid import expand_grid, parse_grid
from quantdesk.backtest.metrics import annualization, bar_returns
from quantdesk.backtest.overfitting import (
    OverfittingReport,
    overfitting_report,
)
from quantdesk.backtest.sweep_fast import FastPath, fast_path_for
from quantdesk.backtest.sweep_targets import TargetPath, target_path_for
from quantdesk.core.clock import Clock
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError
from quantdesk.core.settings import get_settings
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["LOWER_IS_BETTER", "SweepResult", "parse_grid", "sweep"]

# Metrics where smaller is better; every other metric ranks descending.
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown_duration_bars", "max_drawdown_duration_days",
                             "fees_paid", "turnover"})
_METRIC_COLUMNS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
                   "max_drawdown_duration_bars", "max_drawdown_duration_days", "calmar", "trades",
                   "open_trades", "win_rate", "profit_factor", "avg_trade", "exposure", "turnover",
                   "fees_paid", "final_equity", "n_bars")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """A sweep's ranked metrics (one row per valid combination) and its overfitting statistics."""

    sweep_id: str | None
    strategy: str
    metric: str
    param_names: tuple[str, ...]
    results: pl.DataFrame  # rank, params..., metrics...; sorted best first
    n_combinations: int
    skipped: int
    engine: str  # "kernel" or "vectorbt"
    overfitting: OverfittingReport | None
    snapshot: DataSnapshot
    workers: tuple[str, ...] = ()  # the Dask workers that ran chunks (empty: this process)

    def top(self, n: int = 20) -> pl.DataFrame:
        """Return the best `n` combinations."""
        return self.results.head(n)

    @property
    def best_params(self) -> dict[str, Any]:
        """Return the parameters of the best combination."""
        row = self.results.row(0, named=True)
        return {k: row[k] for k in self.param_names}

    def summary(self, top: int = 20) -> dict[str, Any]:
        """Return a JSON-ready summary: id, counts, overfitting statistics and the top rows."""
        return {
            "sweep_id": self.sweep_id,
            "strategy": self.strategy,
            "metric": self.metric,
            "engine": self.engine,
            "combinations": self.n_combinations,
            "skipped": self.skipped,
            "best_params": self.best_params if len(self.results) else None,
            "overfitting": asdict(self.overfitting) if self.overfitting else None,
            "top": self.top(top).to_dicts(),
        }


def _rank(frame: pl.DataFrame, metric: str) -> pl.DataFrame:
    if metric not in frame.columns:
        raise BacktestError(f"cannot rank by {metric!r}; choose one of {', '.join(_METRIC_COLUMNS)}")
    descending = metric not in LOWER_IS_BETTER
    key = pl.col(metric).cast(pl.Float64)
    frame = frame.with_columns(key.fill_nan(None).alias("_key"))
    frame = frame.sort("_key", descending=descending, nulls_last=True, maintain_order=True).drop("_key")
    return frame.with_row_index("rank", offset=1)


def sweep(
    strategy: type[Strategy] | str,
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    grid: Mapping[str, Sequence[Any]] | Sequence[str],
    random: int | None = None,
    seed: int = 0,
    cost: CostModel | None = None,
    rules: MarketRules | None = None,
    initial_cash: float = 10_000.0,
    allow_short: bool = False,
    rebalance: bool = False,
    timeframe: str | None = None,
    metric: str = "sharpe",
    engine: str = "auto",
    chunk_size: int = 1024,
    n_blocks: int = 16,
    store: bool = True,
    lake: Any = None,
    clock: Clock | None = None,
    on_progress: Callable[[int], None] | None = None,
    market: str = "spot",
    leverage: float = 1.0,
    dask: str | None = None,
) -> SweepResult:
    """Backtest every combination of `grid` (or `random` of them) and rank them by `metric`.

    `grid` is {name: values} or CLI specs like ["fast=5:100:5", "slow=10:200:10"].
    Combinations that `validate()` refuses (e.g. fast >= slow) are skipped and counted.
    `engine` is "auto" (kernel when the strategy has one), "kernel" or "vectorbt".
    With `store=True` the ranked table and the statistics are saved as a run of kind
    "sweep" whose id is `sweep_id`. `on_progress(n)` is called as combinations finish.
    `dask="tcp://HOST:8786"` (or the setting `dask`, env QUANTDESK_DASK) runs the combinations on
    that Dask cluster in chunks (`quantdesk.backtest.distributed`), with the same results.
    `market="futures"` sweeps a perpetual with `leverage`, funding and liquidation
    (`quantdesk.backtest.futures`; shorts allowed, one combination at a time).
    Example: `sweep("sma_cross", candles, grid={"fast": range(5, 101, 5), "slow": range(10, 201, 10)})`.
    """
    if market not in ("spot", "futures"):
        raise BacktestError(f"market {market!r} is not spot or futures")
    strategy_cls = load_strategy(strategy) if isinstance(strategy, str) else strategy
    if not isinstance(grid, Mapping):
        grid = parse_grid(grid)
    if not grid:
        raise BacktestError("a sweep needs a grid, e.g. --grid fast=5:100:5 --grid slow=10:200:10")
    if engine not in ("auto", "kernel", "vectorbt"):
        raise BacktestError(f"engine {engine!r} is not one of auto, kernel, vectorbt")
    cost = cost or CostModel()
    rules = rules or MarketRules()
    combos, skipped = expand_grid(strategy_cls, grid, random=random, seed=seed)
    if not combos:
        raise BacktestError(
            f"no valid combination in the grid ({skipped} skipped by {strategy_cls.name}.validate()); "
            "check the ranges, e.g. fast must stay below slow"
        )
    frames, snapshot = resolve_data(data, timeframe=timeframe, lake=lake)
    if snapshot.bars < max(n_blocks, 2):
        raise BacktestError(f"a sweep needs at least {max(n_blocks, 2)} bars, got {snapshot.bars}")
    tf_ms = timeframe_ms(snapshot.timeframe)
    if market == "futures":
        return _futures_sweep(strategy_cls, data, frames, snapshot, combos, skipped, grid=grid, random=random,
                              seed=seed, metric=metric, n_blocks=n_blocks, store=store, lake=lake, clock=clock,
                              on_progress=on_progress, leverage=leverage, cost=cost, rules=rules,
                              initial_cash=initial_cash, rebalance=rebalance)
    fast: FastPath | TargetPath | None = None
    if engine != "vectorbt":
        # the hand-fused moving-average kernel where there is one, else any single-symbol
        # strategy's targets through the generic kernel
        fast = fast_path_for(strategy_cls, frames) or target_path_for(strategy_cls, frames)
    if engine == "kernel" and fast is None:
        raise BacktestError(f"{strategy_cls.name} has no sweep kernel (multi-asset); use engine='auto' or 'vectorbt'")
    engine_kw = dict(cost=cost, rules=rules, initial_cash=initial_cash, allow_short=allow_short,
                     rebalance=rebalance)
    dask = dask if dask is not None else get_settings().dask
    ran_on: list[str] = []
    if dask:
        from quantdesk.backtest.distributed import DaskSweeper
        from quantdesk.backtest.engine import resolve_strategy

        with DaskSweeper(dask, resolve_strategy(strategy_cls)[1], frames) as cluster:
            metrics, blocks = cluster.run(combos, timeframe=snapshot.timeframe, timeframe_ms=tf_ms, n_blocks=n_blocks,
                                          metric_columns=_METRIC_COLUMNS, engine=engine, on_progress=on_progress,
                                          **engine_kw)
        ran_on = sorted(cluster.workers_used)
        rows_frame = pl.DataFrame(combos).with_columns(*[pl.Series(k, metrics[k]) for k in _METRIC_COLUMNS])
    elif fast is not None:
        metrics, blocks = fast.run(combos, chunk_size=chunk_size, n_blocks=n_blocks, timeframe_ms=tf_ms,
                                   on_progress=on_progress, **engine_kw)
        rows_frame = pl.DataFrame(combos).with_columns(
            *[pl.Series(k, metrics[k]) for k in _METRIC_COLUMNS]
        )
    else:
        rows, blocks = backtest_rows(strategy_cls, frames, combos, snapshot=snapshot, n_blocks=n_blocks,
                                      on_progress=on_progress, **engine_kw)
        rows_frame = pl.DataFrame(combos).with_columns(
            *[pl.Series(k, [row[k] for row in rows]) for k in _METRIC_COLUMNS]
        )
    ranked = _rank(rows_frame.with_row_index("combo"), metric)
    report = _overfitting(strategy_cls, frames, ranked, combos, blocks, fast=fast, n_blocks=n_blocks,
                          bars=snapshot.bars, tf_ms=tf_ms, **engine_kw)
    result = SweepResult(
        sweep_id=None, strategy=strategy_cls.name, metric=metric, param_names=tuple(combos[0]),
        results=ranked.drop("combo"), n_combinations=len(combos), skipped=skipped,
        engine=("kernel" if isinstance(fast, FastPath) else "targets") if fast is not None else "vectorbt",
        overfitting=report, snapshot=snapshot, workers=tuple(sorted(set(ran_on))),
    )
    if store:
        result = _store(result, strategy_cls, grid=grid, random=random, seed=seed, clock=clock, **engine_kw)
    return result


def _futures_sweep(strategy_cls: type[Strategy], data: Any, frames: dict[str, pl.DataFrame], snapshot: DataSnapshot,
                   combos: list[dict[str, Any]], skipped: int, *, grid: Mapping[str, Sequence[Any]],
                   random: int | None, seed: int, metric: str, n_blocks: int, store: bool, lake: Any,
                   clock: Clock | None, on_progress: Callable[[int], None] | None, leverage: float,
                   **engine_kw: Any) -> SweepResult:
    from quantdesk.backtest.futures import futures_backtest, lake_inputs
    from quantdesk.core.margin import tiers_for

    funding, mark = (lake_inputs(data, next(iter(frames.values())), snapshot.exchange, lake)
                     if isinstance(data, LakeQuery) else (None, None))
    futures = {"leverage": leverage, "funding": funding, "mark": mark, "tiers": tiers_for(next(iter(frames)))}
    engine_kw["allow_short"] = True
    rows, blocks = backtest_rows(strategy_cls, frames, combos, snapshot=snapshot, n_blocks=n_blocks,
                                 on_progress=on_progress, futures=futures, **engine_kw)
    rows_frame = pl.DataFrame(combos).with_columns(*[pl.Series(k, [row[k] for row in rows]) for k in _METRIC_COLUMNS])
    ranked = _rank(rows_frame.with_row_index("combo"), metric)
    best = combos[int(ranked["combo"][0])]
    equity = futures_backtest(strategy_cls, frames, params=best, timeframe=snapshot.timeframe, lookahead_samples=0,
                              store=False, **futures, **engine_kw).equity["equity"].to_numpy()
    per_bar = ranked["sharpe"].to_numpy() / math.sqrt(annualization(timeframe_ms(snapshot.timeframe)))
    sizes = np.diff([(snapshot.bars * k) // n_blocks for k in range(n_blocks + 1)])
    report = overfitting_report(sharpes=per_bar, selected=0,
                                selected_returns=bar_returns(equity, engine_kw["initial_cash"]),
                                block_stats=blocks if len(combos) >= 2 else None, block_sizes=sizes)
    result = SweepResult(
        sweep_id=None, strategy=strategy_cls.name, metric=metric, param_names=tuple(combos[0]),
        results=ranked.drop("combo"), n_combinations=len(combos), skipped=skipped, engine="futures",
        overfitting=report, snapshot=snapshot,
    )
    if store:
        result = _store(result, strategy_cls, grid=grid, random=random, seed=seed, clock=clock,
                        extra={"market": "futures", "leverage": leverage}, **engine_kw)
    return result


def _overfitting(
    strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame], ranked: pl.DataFrame,
    combos: list[dict[str, Any]], blocks: np.ndarray, *, fast: FastPath | TargetPath | None, n_blocks: int, bars: int,
    tf_ms: int, **engine_kw: Any,
) -> OverfittingReport:
    best = combos[int(ranked["combo"][0])]
    if fast is not None:
        equity = fast.equity(best, **engine_kw)
    else:
        from quantdesk.backtest.engine import backtest

        equity = backtest(strategy_cls, frames, params=best, lookahead_samples=0, store=False,
                          **engine_kw).equity["equity"].to_numpy()
    per_bar = ranked["sharpe"].to_numpy() / math.sqrt(annualization(tf_ms))
    sizes = np.diff([(bars * k) // n_blocks for k in range(n_blocks + 1)])
    return overfitting_report(
        sharpes=per_bar, selected=0, selected_returns=bar_returns(equity, engine_kw["initial_cash"]),
        block_stats=blocks if len(combos) >= 2 else None, block_sizes=sizes,
    )


def _store(result: SweepResult, strategy_cls: type[Strategy], *, grid: Mapping[str, Sequence[Any]],
           random: int | None, seed: int, clock: Clock | None, extra: dict[str, Any] | None = None,
           **engine_kw: Any) -> SweepResult:
    from dataclasses import replace

    from quantdesk.backtest.store import save_run

    record = {
        "strategy": result.strategy,
        "code_hash": strategy_source_hash(strategy_cls),
        "grid": {k: list(v) for k, v in grid.items()},
        "random": random,
        "seed": seed,
        "metric": result.metric,
        "engine": result.engine,
        "combinations": result.n_combinations,
        "skipped": result.skipped,
        "snapshot": asdict(result.snapshot),
        "cost": asdict(engine_kw["cost"]),
        "rules": asdict(engine_kw["rules"]),
        "initial_cash": engine_kw["initial_cash"],
        "allow_short": engine_kw["allow_short"],
        "rebalance": engine_kw["rebalance"],
        "params": result.best_params,
        "metrics": result.results.row(0, named=True),
        "overfitting": asdict(result.overfitting) if result.overfitting else None,
        **({"extra": extra} if extra else {}),
    }
    sweep_id = save_run("sweep", record, {"results": result.results}, clock=clock)
    return replace(result, sweep_id=sweep_id)


class _CallableModule(types.ModuleType):
    """This module, callable as `sweep(...)`.

    The function shares the module's name, and importing the submodule rebinds
    `quantdesk.backtest.sweep` to the module; calling it still runs the sweep.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
