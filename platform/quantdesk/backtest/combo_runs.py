"""One strategy's backtests over a list of parameter combinations, the way a sweep or a walk-forward
window runs them when no fused kernel applies.

Below `sweep`, `walkforward` and `distributed` alike (each imports this, this imports none of them),
so a Dask worker runs a chunk on the local path without the modules importing each other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.data import DataSnapshot
from quantdesk.backtest.metrics import bar_returns
from quantdesk.backtest.overfitting import block_stats_from_returns
from quantdesk.strategies.base import Strategy

__all__ = ["backtest_rows", "run_one", "window_equity", "window_metrics"]


def backtest_rows(
    strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame], combos: list[dict[str, Any]], *,
    snapshot: DataSnapshot, n_blocks: int, on_progress: Callable[[int], None] | None,
    futures: dict[str, Any] | None = None, **engine_kw: Any,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Run a full backtest per combination: vectorbt (strategies without a kernel) or, with
    `futures` (leverage, funding, marks and tiers resolved once), the futures engine."""
    from quantdesk.backtest.engine import backtest

    if futures is not None:
        from quantdesk.backtest.futures import futures_backtest

    rows, blocks = [], []
    for combo in combos:
        common = dict(params=combo, timeframe=snapshot.timeframe, lookahead_samples=0, store=False, **engine_kw)
        result = (futures_backtest(strategy_cls, frames, **futures, **common) if futures is not None
                  else backtest(strategy_cls, frames, **common))
        rows.append(result.metrics.as_dict())
        r = bar_returns(result.equity["equity"].to_numpy(), engine_kw["initial_cash"])
        blocks.append(block_stats_from_returns(r[:, None], n_blocks)[0])
        if on_progress is not None:
            on_progress(1)
    return rows, np.asarray(blocks)



def run_one(strategy_cls: type[Strategy], sliced: dict[str, pl.DataFrame], params: dict[str, Any], cash: float,
             kw: dict[str, Any]) -> Any:
    """One window's backtest: the futures engine when `kw` carries futures inputs, else the spot one."""
    kw = dict(kw)
    futures = kw.pop("futures", None)
    if futures is not None:
        from quantdesk.backtest.futures import futures_backtest

        return futures_backtest(strategy_cls, sliced, params=params, initial_cash=cash, lookahead_samples=0,
                                store=False, **futures, **kw)
    from quantdesk.backtest.engine import backtest

    return backtest(strategy_cls, sliced, params=params, initial_cash=cash, lookahead_samples=0, store=False, **kw)


def window_metrics(strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame], fast: Any,
             combos: list[dict[str, Any]], bars: slice, tf_ms: int, cash: float, kw: dict[str, Any]) -> dict[str, Any]:
    if fast is not None:
        out, _ = fast.run(combos, initial_cash=cash, timeframe_ms=tf_ms, bars=bars, n_blocks=2, **kw)
        return out
    sliced = {s: f[bars] for s, f in frames.items()}
    rows = [run_one(strategy_cls, sliced, p, cash, kw).metrics.as_dict() for p in combos]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def window_equity(strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame], fast: Any, params: dict[str, Any],
            bars: slice, cash: float, kw: dict[str, Any]) -> np.ndarray:
    if fast is not None:
        return fast.equity(params, initial_cash=cash, bars=bars, **kw)
    sliced = {s: f[bars] for s, f in frames.items()}
    return run_one(strategy_cls, sliced, params, cash, kw).equity["equity"].to_numpy()
