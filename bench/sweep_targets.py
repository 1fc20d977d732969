"""Benchmark sweeps of strategies without a hand-fused kernel; print one JSON document.

One year of SYNTHETIC 1m candles (525,600 bars, the seeded walk of bench/sweep.py), fees
10 bps. Two strategies: the built-in `rsi_reversion` and `ZscoreFade`, loaded from a file
(bench/strategies/zscore_fade.py) the way a quant's own strategy is. For each, in the same
process on the same data:

* `sweep_end_to_end`: the whole `sweep()` (targets on every core with indicators memoised,
  the generic kernel, metrics, ranking, overfitting statistics);
* `kernel_only`: the generic kernel over the precomputed target matrix;
* `vectorbt_from_orders`: what a quant does by hand: `Portfolio.from_orders` on the same
  target matrix (all columns in one call, the engine's arguments), plus the same headline
  metrics, timed after a warm-up;
* `equal_to_single_backtest`: one combination's metrics from the sweep against
  `quantdesk.backtest.backtest` of it (vectorbt underneath).

Usage: python bench/sweep_targets.py [--bars 525600]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import FEE_BPS, N_BARS, candles  # noqa: E402

FILE_STRATEGY = f"{Path(__file__).resolve().parent / 'strategies' / 'zscore_fade.py'}:ZscoreFade"
GRIDS = {
    "rsi_reversion": {"period": [7, 14, 21, 28], "oversold": [20.0, 25.0, 30.0], "exit_level": [50.0, 55.0],
                      "overbought": [70.0, 75.0, 80.0]},
    "file:ZscoreFade": {"window": [30, 60, 120, 240], "entry": [1.5, 2.0, 2.5, 3.0], "trend": [100, 400, 1600]},
}


def _vectorbt(frame, targets: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    import pandas as pd
    import vectorbt as vbt

    from quantdesk.backtest.engine import order_sizes

    close = pd.DataFrame(np.repeat(frame["close"].to_numpy()[:, None], targets.shape[0], axis=1))
    price = pd.DataFrame(np.repeat(frame["open"].to_numpy()[:, None], targets.shape[0], axis=1))
    size = pd.DataFrame(order_sizes(targets.T))
    kw = dict(size_type="targetpercent", fees=FEE_BPS / 1e4, init_cash=10_000.0, direction="longonly",
              freq="1min")
    small = slice(0, 2_000)
    vbt.Portfolio.from_orders(close=close.iloc[small], size=size.iloc[small], price=price.iloc[small], **kw)
    t = time.perf_counter()
    pf = vbt.Portfolio.from_orders(close=close, size=size, price=price, **kw)
    pf.total_return()
    pf.sharpe_ratio()
    pf.max_drawdown()
    pf.trades.count()
    elapsed = time.perf_counter() - t
    return {"seconds": round(elapsed, 3), "bar_combos_per_s": targets.size / elapsed}


def bench(name: str, frame, grid: dict) -> dict:  # noqa: ANN001
    from quantdesk.backtest import backtest
    from quantdesk.backtest.grid import expand_grid
    from quantdesk.backtest.kernel_targets import target_sweep
    from quantdesk.backtest.sweep import sweep
    from quantdesk.backtest.sweep_targets import target_path_for
    from quantdesk.core import CostModel
    from quantdesk.indicators.cache import indicator_cache
    from quantdesk.strategies import load_strategy

    cls = load_strategy(FILE_STRATEGY if name.startswith("file:") else name)
    combos, _ = expand_grid(cls, grid)
    cost = CostModel(fee_bps=FEE_BPS)
    sweep(cls, frame.head(5_000), grid=grid, cost=cost, store=False, timeframe="1m")  # JIT warm-up
    t = time.perf_counter()
    result = sweep(cls, frame, grid=grid, cost=cost, store=False, timeframe="1m")
    end_to_end = time.perf_counter() - t
    path = target_path_for(cls, {"x": frame})
    t = time.perf_counter()
    with indicator_cache() as memo:
        targets = path.targets(combos, allow_short=False)
    targets_s = time.perf_counter() - t
    t = time.perf_counter()
    target_sweep(path.open_, path.close, targets, fee=cost.fee_rate)
    kernel_s = time.perf_counter() - t
    peer = _vectorbt(frame, targets)
    work = len(frame) * len(combos)
    pick = result.results.row(len(combos) // 2, named=True)
    single = backtest(cls, frame, params={k: pick[k] for k in grid}, cost=cost, lookahead_samples=0, store=False,
                      timeframe="1m")
    ours = work / end_to_end
    return {
        "combinations": len(combos), "engine": result.engine,
        "mean_trades_per_combination": float(result.results["trades"].mean()),
        "sweep_end_to_end": {"seconds": round(end_to_end, 3), "bar_combos_per_s": ours},
        "targets_only": {"seconds": round(targets_s, 3), "indicator_hits": memo.hits, "indicator_misses": memo.misses},
        "kernel_only": {"seconds": round(kernel_s, 3), "bar_combos_per_s": work / kernel_s},
        "vectorbt_from_orders": peer,
        "speedup_end_to_end_vs_vectorbt": ours / peer["bar_combos_per_s"],
        "speedup_kernel_vs_vectorbt": (work / kernel_s) / peer["bar_combos_per_s"],
        "equal_to_single_backtest": {
            "params": {k: pick[k] for k in grid},
            "final_equity_sweep": pick["final_equity"], "final_equity_backtest": single.metrics.final_equity,
            "trades_equal": pick["trades"] == single.metrics.trades,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=N_BARS)
    args = parser.parse_args()
    frame = candles(args.bars)
    out = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}, "bars": args.bars,
           "goal": {"bar_combos_per_s": 25e6, "speedup_vs_vectorbt_from_orders": 10.0}}
    for name, grid in GRIDS.items():
        out[name] = bench(name, frame, grid)
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
