"""Benchmark the exporter's scrape at the contract's cardinality budget (issue 26).

A multiprocess directory as a busy desk leaves it: 20 runner processes (alive: their live
gauges count), each with one deployment trading 20 symbols (position notional, candle age,
equity, decision histogram, orders, fills, order seconds, risk checks), plus 50 CLI commands
that exited (counters only). Then the exporter's full scrape (merge of every file, the
ledger gauges from a real SQLite ledger, text exposition) is timed. Goal: < 50 ms.

Run: .venv/bin/python bench/metrics.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEPLOYMENTS, SYMBOLS, DEAD_CLI = 20, 20, 50


def _fill(directory: Path, pid: int, deployment: str | None) -> None:
    """Record what one process would, into files named after `pid`."""
    from prometheus_client import values

    from quantdesk.metrics.contract import CONTRACT
    from quantdesk.metrics.registry import _make

    values.ValueClass = values.MultiProcessValue(lambda: pid)
    m = {spec.name: _make(spec, None) for spec in CONTRACT if not spec.from_ledger}
    for side in ("buy", "sell"):
        for outcome in ("filled", "open", "rejected", "denied", "failed"):
            m["quantdesk_orders"].labels("binance", side, outcome).inc()
    m["quantdesk_fills"].labels("binance").inc(3)
    m["quantdesk_order_seconds"].labels("binance").observe(0.05)
    m["quantdesk_risk_check_seconds"].observe(2e-5)
    for code in ("QTY_EXCEEDS_MAX_PER_ORDER", "TRADING_HALTED", "NOTIONAL_EXCEEDS_MAX_PER_ORDER"):
        m["quantdesk_risk_denials"].labels(code).inc()
    if deployment is None:
        return
    m["quantdesk_decision_seconds"].labels(deployment).observe(0.3)
    m["quantdesk_equity"].labels(deployment).set(10_000)
    for i in range(SYMBOLS):
        symbol = f"S{i:02d}/USDT"
        m["quantdesk_position_notional"].labels(deployment, symbol).set(100.0 + i)
        m["quantdesk_candle_age_seconds"].labels("binance", symbol, "1m").set(5.0)
    m["quantdesk_lake_rows_written"].labels("binance", "1m").inc(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    from prometheus_client import values

    from quantdesk.metrics import LedgerReading, enable_multiprocess, render, scrape_registry

    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(DEPLOYMENTS)]  # live runner pids
    try:
        with tempfile.TemporaryDirectory(prefix="qd-metrics-bench-") as tmp:
            directory = Path(tmp) / "metrics"
            enable_multiprocess(directory)
            directory.mkdir(exist_ok=True)  # enable_multiprocess may have made it
            for i, process in enumerate(sleepers):
                _fill(directory, process.pid, f"dep-{i:02d}")
            for i in range(DEAD_CLI):
                _fill(directory, 4_000_000 + i, None)  # exited CLI commands: no such pid
            values.ValueClass = values.MutexValue
            from quantdesk.cli.metrics import ledger_reader
            from quantdesk.ledger import Ledger

            os.environ["QUANTDESK_HOME"] = tmp
            with Ledger(f"sqlite:///{Path(tmp) / 'quantdesk.db'}") as ledger:
                read = ledger_reader(ledger)
                registry = scrape_registry(read)
                text = render(registry).decode()
                times, cpu = [], []
                for _ in range(args.repeat):
                    t, c = time.perf_counter(), time.process_time()
                    render(registry)
                    times.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)  # this process's CPU: less swayed by load
                ledger_only = scrape_registry(lambda: LedgerReading())
            series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
            arr = np.array(times)
            out: dict[str, Any] = {
                "load_avg_1m": round(os.getloadavg()[0], 2), "deployments": DEPLOYMENTS, "symbols": SYMBOLS,
                "live_processes": DEPLOYMENTS, "exited_processes": DEAD_CLI,
                "files": len(list(directory.glob("*.db"))), "series": series, "series_budget": 2000,
                "scrape_p50_ms": round(float(np.percentile(arr, 50)), 2),
                "scrape_max_ms": round(float(arr.max()), 2), "goal_ms": 50,
                "scrape_cpu_p50_ms": round(float(np.percentile(np.array(cpu), 50)), 2),
                "bytes": len(text), "ledger_collector": ledger_only is not None,
            }
    finally:
        for process in sleepers:
            process.kill()
            process.wait()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
