"""Benchmark `optimize` (Optuna TPE, study in the ledger database) against the grid sweep; print one JSON document.

One year of SYNTHETIC 1m candles (525,600 bars, the seeded random walk of bench/sweep.py), `rsi_reversion`,
fees 10 bps. The search runs 200 seeded TPE trials over period 5..54 x oversold 10..40 (continuous);
the grid sweeps the same ranges with the same number of combinations (period 5..54 x oversold
15, 20, 25, 30 = 200). Reported: wall time and trials (combinations) per second of each, the best
Sharpe each found, and the deflated Sharpe and PBO each reports. Both runs store their results
(the search also writes every trial to the ledger's SQLite file under a temporary QUANTDESK_HOME,
or to `--db-url`). JIT compilation is warmed on a small slice first and not counted.

Usage: python bench/optimize.py [--bars 525600] [--trials 200] [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep import N_BARS, candles  # noqa: E402  (bench/sweep.py: the same synthetic year)

FEE_BPS = 10.0
SPACE = ["period=5:54", "oversold=10.0:40.0"]
GRID = {"period": list(range(5, 55)), "oversold": [15.0, 20.0, 25.0, 30.0]}


def _stats(of) -> dict:  # noqa: ANN001
    return None if of is None else {"n_trials": of.n_trials, "deflated_sharpe": of.deflated_sharpe, "pbo": of.pbo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=N_BARS)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--db-url", default=None)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="qd-bench-optimize-")
    os.environ["QUANTDESK_HOME"] = home  # a fresh ledger and run store: nothing resumed

    from quantdesk.backtest.optimize import optimize
    from quantdesk.backtest.sweep import sweep
    from quantdesk.core import CostModel
    from quantdesk.ledger import upgrade
    from quantdesk.ledger.studies import study_storage

    frame = candles(args.bars)
    cost = CostModel(fee_bps=FEE_BPS)
    url = args.db_url or f"sqlite:///{Path(home) / 'quantdesk.db'}"
    upgrade(url)
    # warm-up: numba kernels, TA-Lib, Optuna's imports and tables (another study, a small slice)
    with study_storage(url) as storage:
        optimize("rsi_reversion", frame.head(5_000), space=SPACE, trials=3, cost=cost, timeframe="1m", storage=storage,
                 store=False)
    sweep("rsi_reversion", frame.head(5_000), grid={"period": [5, 6], "oversold": [20.0]}, cost=cost, store=False,
          timeframe="1m")

    t = time.perf_counter()
    with study_storage(url) as storage:
        searched = optimize("rsi_reversion", frame, space=SPACE, trials=args.trials, seed=0, cost=cost,
                            timeframe="1m", storage=storage)
    search_s = time.perf_counter() - t
    t = time.perf_counter()
    grid = sweep("rsi_reversion", frame, grid=GRID, cost=cost, timeframe="1m")
    grid_s = time.perf_counter() - t

    out = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "bars": args.bars, "strategy": "rsi_reversion", "storage": url.split(":", 1)[0],
        "optimize": {
            "trials": searched.n_trials, "backtested": searched.n_evaluated, "refused": searched.n_invalid,
            "engine": searched.engine, "seconds": round(search_s, 3), "trials_per_s": searched.n_trials / search_s,
            "best_params": searched.best_params, "best_sharpe": searched.trials.row(0, named=True)["sharpe"],
            "overfitting": _stats(searched.overfitting),
        },
        "grid_sweep": {
            "combinations": grid.n_combinations, "engine": grid.engine, "seconds": round(grid_s, 3),
            "combinations_per_s": grid.n_combinations / grid_s, "best_params": grid.best_params,
            "best_sharpe": grid.results.row(0, named=True)["sharpe"], "overfitting": _stats(grid.overfitting),
        },
        "grid_over_optimize_throughput": (grid.n_combinations / grid_s) / (searched.n_trials / search_s),
    }
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
