"""Benchmark one backtest end to end; print one JSON document.

On one year of synthetic 1m candles (525,600 bars minus outages), SMA crossover (fast 10,
slow 30), fees 10 bps: the strategy's target, the sampled lookahead check (8 bars), the
vectorbt simulation with trade extraction and metrics, and storing the run. vectorbt's import
and first JIT compilation are reported separately (numba caches compiled code between runs).

Run: .venv/bin/python bench/backtest.py [--days 365]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    os.environ["QUANTDESK_HOME"] = tempfile.mkdtemp(prefix="qd-bench-")

    from quantdesk.backtest import backtest
    from quantdesk.backtest.lookahead import check_lookahead, target_matrix
    from quantdesk.core import CostModel
    from quantdesk.lake import generate_candles
    from quantdesk.strategies import load_strategy

    candles = generate_candles("BTC/USDT", minutes=args.days * 1440)
    t0 = time.perf_counter()
    import vectorbt  # noqa: F401

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    backtest("sma_cross", candles.head(500), timeframe="1m", store=False)
    warm_s = time.perf_counter() - t0

    strategy = load_strategy("sma_cross")(fast=10, slow=30)
    frames = {"asset": candles}
    t0 = time.perf_counter()
    target_matrix(strategy, frames)
    target_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    check_lookahead(strategy, frames, samples=8)
    lookahead_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = backtest(strategy, candles, cost=CostModel(fee_bps=10), timeframe="1m", store=True)
    total_s = time.perf_counter() - t0
    print(json.dumps({
        "benchmark": "backtest",
        "bars": len(candles),
        "trades": result.metrics.trades,
        "vectorbt_import_s": round(import_s, 3),
        "first_backtest_incl_jit_s": round(warm_s, 3),
        "target_s": round(target_s, 4),
        "lookahead_check_8_samples_s": round(lookahead_s, 4),
        "backtest_total_s": round(total_s, 3),
        "bars_per_s": round(len(candles) / total_s),
    }))


if __name__ == "__main__":
    main()
