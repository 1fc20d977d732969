"""Wire built-in strategies to the fused sweep kernels (`quantdesk.backtest.kernels`).

A fast path exists for a strategy class only when it is the registered built-in itself
(a subclass may override `target`). Its moving averages are computed with the very
function the strategy's `target` uses, once per distinct window, so the kernel's signal is
bit-identical to the strategy's; the kernel then applies the engine's clipping
(no shorts unless `allow_short`) and execution semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.kernels import ma_cross_equity, ma_cross_sweep
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.strategies.base import Strategy, registry

__all__ = ["FastPath", "fast_path_for"]


def _sma(close: pl.Series, window: int) -> np.ndarray:
    from quantdesk.indicators import sma_exact

    return sma_exact(close, window).to_numpy()  # exactly SmaCross.target's indicator


def _sma_table(close: pl.Series, windows: list[int]) -> dict[int, np.ndarray]:
    from quantdesk.indicators import sma_exact_table

    return sma_exact_table(close, windows)  # bit for bit `_sma` per window, sharing the prefix sums


def _ema(close: pl.Series, window: int) -> np.ndarray:
    from quantdesk.indicators import ema

    return ema(close, window).to_numpy()  # exactly EmaCross.target's indicator


@dataclass(frozen=True, slots=True)
class _MaCrossSpec:
    indicator: Callable[[pl.Series, int], np.ndarray]
    short_param: str | None
    table: Callable[[pl.Series, list[int]], dict[int, np.ndarray]] | None = None  # many windows at once


_SPECS: dict[str, _MaCrossSpec] = {
    "sma_cross": _MaCrossSpec(_sma, None, _sma_table),
    "ema_cross": _MaCrossSpec(_ema, "short"),
}


@dataclass(frozen=True, slots=True)
class FastPath:
    """A moving-average crossover kernel bound to one symbol's candles."""

    spec: _MaCrossSpec
    strategy_cls: type[Strategy]
    close_series: pl.Series
    open_: np.ndarray
    close: np.ndarray

    def _indicators(self, windows: list[int]) -> dict[int, np.ndarray]:
        """Return each window's moving average; batched and on every core when the spec has a table builder.

        numpy releases the GIL in the long array passes, so threads split the windows.
        """
        if not windows:
            return {}
        if self.spec.table is None:
            return {w: self.spec.indicator(self.close_series, w) for w in windows}
        import os
        from concurrent.futures import ThreadPoolExecutor

        n = max(1, min(os.cpu_count() or 1, len(windows) // 4 or 1))
        parts = [windows[i::n] for i in range(n)]
        if n == 1:
            return self.spec.table(self.close_series, windows)
        out: dict[int, np.ndarray] = {}
        with ThreadPoolExecutor(n) as pool:
            for part in pool.map(lambda ws: self.spec.table(self.close_series, ws), parts):
                out.update(part)
        return {w: out[w] for w in windows}

    def _levels(self, combos: list[dict[str, Any]], allow_short: bool) -> tuple[np.ndarray, np.ndarray]:
        defaults = {k: p.default for k, p in self.strategy_cls.params().items()}
        name = self.spec.short_param
        lo = np.array([-1.0 if name and {**defaults, **c}[name] else 0.0 for c in combos])
        if not allow_short:
            lo = np.maximum(lo, 0.0)  # the engine clips targets to [0, 1] without shorts
        return np.ones(len(combos)), lo

    def _windows(self, combos: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        defaults = {k: p.default for k, p in self.strategy_cls.params().items()}
        full = [{**defaults, **c} for c in combos]
        return np.array([c["fast"] for c in full]), np.array([c["slow"] for c in full])

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
        table_bytes: int = 768 * 2**20,
        bars: slice | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return metric columns (in `combos` order) and CSCV block stats for every combination.

        `bars` restricts the run to a slice of bars (walk-forward); indicators still see the
        history before it, as a live strategy would.
        """
        fast, slow = self._windows(combos)
        hi, lo = self._levels(combos, allow_short)
        sl = bars or slice(0, len(self.close))
        # One moving-average table (a row per window) within a memory budget, filled as
        # chunks need windows; sorting by windows keeps each chunk's distinct windows few.
        n_bars = len(range(*sl.indices(len(self.close))))
        n_windows = len(set(fast) | set(slow))
        max_windows = max(2, min(n_windows, table_bytes // max(8 * n_bars, 1)))
        table = np.empty((max_windows, n_bars))
        slots: dict[int, int] = {}
        order = np.lexsort((slow, fast))
        metrics: dict[str, np.ndarray] = {}
        blocks = np.empty((len(combos), n_blocks, 2))
        for chunk in _chunks(order, fast, slow, chunk_size, max_windows):
            needed = {int(w) for w in fast[chunk]} | {int(w) for w in slow[chunk]}
            slots = {w: i for w, i in slots.items() if w in needed}
            free = sorted(set(range(max_windows)) - set(slots.values()))
            missing = sorted(needed - set(slots))
            for w, values in self._indicators(missing).items():
                slots[w] = free.pop(0)
                table[slots[w]] = values[sl]
            out, blk = ma_cross_sweep(
                self.open_[sl], self.close[sl], table,
                np.array([slots[int(w)] for w in fast[chunk]]), np.array([slots[int(w)] for w in slow[chunk]]),
                np.zeros(len(chunk), dtype=np.int64), hi[chunk], lo[chunk],
                fee=cost.fee_rate, slippage=cost.slippage_rate,
                min_size=rules.min_order_qty, granularity=rules.lot_step if rules.lot_step > 0 else np.nan,
                direction="both" if allow_short else "longonly", rebalance=rebalance,
                init_cash=initial_cash, timeframe_ms=timeframe_ms, n_blocks=n_blocks,
            )
            for k, v in out.items():
                if k not in metrics:
                    metrics[k] = np.empty(len(combos), dtype=v.dtype)
                metrics[k][chunk] = v
            blocks[chunk] = blk
            if on_progress is not None:
                on_progress(len(chunk))
        return metrics, blocks

    def equity(
        self, params: dict[str, Any], *, cost: CostModel, rules: MarketRules, initial_cash: float,
        allow_short: bool, rebalance: bool, bars: slice | None = None,
    ) -> np.ndarray:
        """Return the equity at each bar's close of one combination (over `bars`)."""
        fast, slow = self._windows([params])
        hi, lo = self._levels([params], allow_short)
        sl = bars or slice(0, len(self.close))
        equity, _ = ma_cross_equity(
            self.open_[sl], self.close[sl],
            self.spec.indicator(self.close_series, int(fast[0]))[sl],
            self.spec.indicator(self.close_series, int(slow[0]))[sl],
            start=0, hi=float(hi[0]), lo=float(lo[0]), fee=cost.fee_rate, slippage=cost.slippage_rate,
            min_size=rules.min_order_qty, granularity=rules.lot_step if rules.lot_step > 0 else np.nan,
            direction="both" if allow_short else "longonly", rebalance=rebalance, init_cash=initial_cash,
        )
        return equity


def _chunks(order: np.ndarray, fast: np.ndarray, slow: np.ndarray, size: int, max_windows: int) -> list[np.ndarray]:
    """Split combinations (in `order`) into chunks of at most `size` using at most `max_windows` windows."""
    chunks, current, windows = [], [], set()
    for i in order:
        new = {int(fast[i]), int(slow[i])} - windows
        if current and (len(current) >= size or len(windows) + len(new) > max_windows):
            chunks.append(np.array(current))
            current, windows = [], set()
            new = {int(fast[i]), int(slow[i])}
        current.append(int(i))
        windows |= new
    if current:
        chunks.append(np.array(current))
    return chunks


def fast_path_for(strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame]) -> FastPath | None:
    """Return the kernel fast path for a built-in single-symbol strategy, else None."""
    import quantdesk.strategies.builtin  # noqa: F401  - registers the built-ins

    spec = _SPECS.get(strategy_cls.name)
    if spec is None or registry().get(strategy_cls.name) is not strategy_cls or len(frames) != 1:
        return None
    frame = next(iter(frames.values()))
    return FastPath(
        spec, strategy_cls, frame["close"],
        np.ascontiguousarray(frame["open"].to_numpy(), dtype=np.float64),
        np.ascontiguousarray(frame["close"].to_numpy(), dtype=np.float64),
    )
