"""The sweep path for any single-symbol strategy: targets in parallel, one generic kernel.

Strategies without a hand-fused kernel (every built-in but the moving-average crosses, and
every strategy a quant writes) are swept by computing each combination's target column
with the strategy's own `target()` (through `target_matrix`, so the engine's validation and
null handling apply) on a thread pool (polars and numpy release the GIL), with indicators
memoised across combinations (`quantdesk.indicators.cache`: an RSI of period 14 is computed
once for every threshold combination). The columns then go through `kernel_targets.target_sweep`,
the same order arithmetic and metrics as the moving-average kernel, so each combination
equals a single backtest of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.kernel_targets import target_equity, target_sweep
from quantdesk.backtest.lookahead import target_matrix
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.indicators.cache import indicator_cache
from quantdesk.strategies.base import Strategy

__all__ = ["TargetPath", "target_path_for"]

# Bytes of target columns held at once (a year of 1m bars is 4.2 MB per combination).
TARGET_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class TargetPath:
    """A strategy's targets swept by the generic kernel, bound to one symbol's candles."""

    strategy_cls: type[Strategy]
    frames: dict[str, pl.DataFrame]
    open_: np.ndarray
    close: np.ndarray

    def targets(self, combos: list[dict[str, Any]], allow_short: bool, threads: int | None = None) -> np.ndarray:
        """Return the (combinations, bars) target matrix, clipped as the engine clips."""
        out = np.empty((len(combos), len(self.close)))

        def fill(i: int) -> None:
            column = target_matrix(self.strategy_cls(**combos[i]), self.frames)[:, 0]
            out[i] = column if allow_short else np.clip(column, 0.0, 1.0)

        workers = max(1, min(threads or os.cpu_count() or 1, len(combos)))
        if workers == 1:
            for i in range(len(combos)):
                fill(i)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fill, range(len(combos))))
        return out

    def run(
        self,
        combos: list[dict[str, Any]],
        *,
        cost: CostModel,
        rules: MarketRules,
        initial_cash: float,
        allow_short: bool,
        rebalance: bool,
        timeframe_ms: int,
        n_blocks: int = 16,
        chunk_size: int = 1024,
        bars: slice | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return metric columns (in `combos` order) and CSCV block stats for every combination."""
        sl = bars or slice(0, len(self.close))
        per_chunk = max(1, min(chunk_size, TARGET_BYTES // max(8 * len(self.close), 1)))
        metrics: dict[str, np.ndarray] = {}
        blocks = np.empty((len(combos), n_blocks, 2))
        with indicator_cache():
            for lo in range(0, len(combos), per_chunk):
                chunk = combos[lo:lo + per_chunk]
                targets = self.targets(chunk, allow_short)
                out, blk = target_sweep(
                    self.open_[sl], self.close[sl], np.ascontiguousarray(targets[:, sl]),
                    fee=cost.fee_rate, slippage=cost.slippage_rate, min_size=rules.min_order_qty,
                    granularity=rules.lot_step if rules.lot_step > 0 else np.nan,
                    direction="both" if allow_short else "longonly", rebalance=rebalance,
                    init_cash=initial_cash, timeframe_ms=timeframe_ms, n_blocks=n_blocks,
                )
                for k, v in out.items():
                    if k not in metrics:
                        metrics[k] = np.empty(len(combos), dtype=v.dtype)
                    metrics[k][lo:lo + len(chunk)] = v
                blocks[lo:lo + len(chunk)] = blk
                if on_progress is not None:
                    on_progress(len(chunk))
        return metrics, blocks

    def equity(
        self, params: dict[str, Any], *, cost: CostModel, rules: MarketRules, initial_cash: float,
        allow_short: bool, rebalance: bool, bars: slice | None = None,
    ) -> np.ndarray:
        """Return the equity at each bar's close of one combination (over `bars`)."""
        sl = bars or slice(0, len(self.close))
        target = self.targets([params], allow_short, threads=1)[0]
        equity, _ = target_equity(
            self.open_[sl], self.close[sl], target[sl], fee=cost.fee_rate, slippage=cost.slippage_rate,
            min_size=rules.min_order_qty, granularity=rules.lot_step if rules.lot_step > 0 else np.nan,
            direction="both" if allow_short else "longonly", rebalance=rebalance, init_cash=initial_cash,
        )
        return equity


def target_path_for(strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame]) -> TargetPath | None:
    """Return the generic kernel path for a single-symbol strategy (None for multi-asset ones)."""
    if len(frames) != 1 or getattr(strategy_cls, "multi_asset", False):
        return None
    frame = next(iter(frames.values()))
    return TargetPath(
        strategy_cls, frames,
        np.ascontiguousarray(frame["open"].to_numpy(), dtype=np.float64),
        np.ascontiguousarray(frame["close"].to_numpy(), dtype=np.float64),
    )
