"""The generic sweep kernel: any strategy's precomputed targets through the fused loop.

`kernels._ma_cross_segment` reads a target row instead of comparing two moving averages when
it is given no slow row, so orders, fills, fees and metrics are the moving-average kernel's own
(the engine's execution, to the bit). These are the drivers for that mode.
"""

from __future__ import annotations

import numba
import numpy as np

from quantdesk.backtest.kernels import (
    _DIRECTION,
    _ma_cross_equity_nb,
    default_segment_bars,
    ma_cross_sweep,
)

__all__ = ["target_equity", "target_sweep"]


def target_sweep(
    open_: np.ndarray,
    close: np.ndarray,
    targets: np.ndarray,
    *,
    fee: float,
    slippage: float = 0.0,
    min_size: float = 0.0,
    granularity: float = float("nan"),
    direction: str = "longonly",
    rebalance: bool = False,
    init_cash: float = 10_000.0,
    timeframe_ms: int = 60_000,
    n_blocks: int = 16,
    segment_bars: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sweep precomputed targets (combinations, bars): the engine's execution for any strategy.

    Row `c` is combination c's target decided at each bar's close (already clipped the way
    the engine clips); the loop, orders and metrics are those of `ma_cross_sweep`.
    """
    n = targets.shape[0]
    return ma_cross_sweep(
        open_, close, targets, np.arange(n), np.full(n, -1), np.zeros(n, dtype=np.int64), np.ones(n),
        np.zeros(n), fee=fee, slippage=slippage, min_size=min_size, granularity=granularity,
        direction=direction, rebalance=rebalance, init_cash=init_cash, timeframe_ms=timeframe_ms,
        n_blocks=n_blocks,
        # a lane's combinations each read their own row: size segments by the rows one thread walks
        segment_bars=segment_bars or default_segment_bars(max(1, n // max(numba.get_num_threads(), 1))),
    )


def target_equity(
    open_: np.ndarray, close: np.ndarray, target: np.ndarray, *, fee: float, slippage: float = 0.0,
    min_size: float = 0.0, granularity: float = float("nan"), direction: str = "longonly",
    rebalance: bool = False, init_cash: float = 10_000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one target column; return its equity at each bar's close and its final kernel state."""
    return _ma_cross_equity_nb(
        np.ascontiguousarray(open_, dtype=np.float64), np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(target, dtype=np.float64), np.empty(0), 0, 1.0, 0.0, float(fee), float(slippage),
        float(min_size), float(granularity), int(_DIRECTION[direction]), bool(rebalance), float(init_cash),
    )
