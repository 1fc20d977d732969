"""Benchmark the candle lake; print one JSON document.

Builds a lake of 20 symbols x one year of 1m candles (synthetic) in a temporary folder and
measures: write throughput, `candles(symbol, "1h", one year)` against a hand-written DuckDB
`time_bucket` query and a polars `group_by_dynamic` over the same files, and a full scan
(`count(*)`, `avg(close)` per symbol) through `Lake.sql`.

Run: .venv/bin/python bench/lake.py [--symbols 20] [--days 366]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake, generate_candles

START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)


def _medians(funcs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Return the median seconds per function; runs are interleaved so load hits all alike."""
    for func in funcs.values():
        func()  # warm-up: caches, thread pools, OS page cache
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            began = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qd-bench-lake-") as root:
        lake = Lake(root, clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
        symbols = [f"S{i:02d}/USDT" for i in range(args.symbols)]
        rows = 0
        write_s = 0.0
        for index, symbol in enumerate(symbols):
            frame = generate_candles(symbol, minutes=args.days * 1440, seed=1, index=index)
            began = time.perf_counter()
            report = lake.write(frame, exchange="bench", symbol=symbol, timeframe="1m")
            write_s += time.perf_counter() - began
            rows += report.inserted
        rewrite_began = time.perf_counter()
        unchanged = lake.write(frame, exchange="bench", symbol=symbols[-1], timeframe="1m")
        rewrite_s = time.perf_counter() - rewrite_began

        symbol = symbols[0]
        files = [str(f.path) for f in lake._files("bench", symbol, "1m")]

        def ours() -> pl.DataFrame:
            return lake.candles(symbol, "1h", start=START, end=END, exchange="bench")

        def polars_hand() -> pl.DataFrame:
            return (
                pl.scan_parquet(files)
                .filter((pl.col("ts") >= START) & (pl.col("ts") < END))
                .group_by_dynamic("ts", every="1h")
                .agg(
                    pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
                    pl.col("close").last(), pl.col("volume").sum(),
                )  # fmt: skip
                .collect()
            )

        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        file_list = ", ".join(f"'{f}'" for f in files)
        duck_query = (
            "select time_bucket(interval '1 hour', ts) as ts, arg_min(open, ts) as open, max(high) as high, "
            "min(low) as low, arg_max(close, ts) as close, sum(volume) as volume "
            f"from read_parquet([{file_list}]) where ts >= '{START.isoformat()}' and ts < '{END.isoformat()}' "
            "group by 1 order by 1"
        )

        def duck_hand() -> pl.DataFrame:
            return con.sql(duck_query).pl()

        read = _medians({"ours": ours, "polars": polars_hand, "duckdb": duck_hand}, args.repeat)
        ours_s, polars_s, duck_s = read["ours"], read["polars"], read["duckdb"]
        ours_frame = ours()
        scan_query = "select symbol, count(*), avg(close) from candles group by 1"
        scan_s = _medians({"scan": lambda: lake.sql(scan_query).fetchall()}, args.repeat)["scan"]
        scanned = sum(r[1] for r in lake.sql(scan_query).fetchall())
        fastest = min(polars_s, duck_s)
        result = {
            "benchmark": "lake",
            "symbols": args.symbols,
            "rows": rows,
            "write_seconds": round(write_s, 3),
            "write_rows_per_s": round(rows / write_s),
            "write_target_rows_per_s": 5_000_000,
            "rewrite_unchanged_seconds": round(rewrite_s, 3),
            "rewrite_files_written": unchanged.files_written,
            "candles_1h_rows": ours_frame.height,
            "candles_1h_ms": round(ours_s * 1000, 2),
            "polars_group_by_dynamic_ms": round(polars_s * 1000, 2),
            "duckdb_time_bucket_ms": round(duck_s * 1000, 2),
            "candles_vs_fastest": round(ours_s / fastest, 3),
            "candles_target_ratio": 1.2,
            "scan_ms": round(scan_s * 1000, 2),
            "scan_rows_per_s": round(scanned / scan_s),
            "scan_target_rows_per_s": 100_000_000,
        }
        result["pass"] = {
            "write": result["write_rows_per_s"] >= 5_000_000,
            "candles": result["candles_vs_fastest"] <= 1.2,
            "scan": result["scan_rows_per_s"] >= 100_000_000,
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
