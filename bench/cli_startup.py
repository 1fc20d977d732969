"""Benchmark CLI start-up: wall time of `quantdesk --help`, `lake status` and `orders`; print one JSON document.

Each command runs `--repeat` times in a fresh interpreter (the OS file cache warm after the
first run) on an empty temporary QUANTDESK_HOME. Beside each figure: the bare interpreter
(`python -c pass`, the floor no CLI can beat) from the same run, and the heavy libraries the
command imported (goal: none of numba, vectorbt, ccxt, prefect; < 0.5 s each).

Run: .venv/bin/python bench/cli_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [["--help"], ["lake", "status"], ["orders"]]
HEAVY = ("numba", "vectorbt", "ccxt", "prefect", "pandas", "polars", "duckdb", "sqlalchemy", "pyarrow")
CLI = [sys.executable, "-m", "quantdesk.cli"] if not (Path(sys.executable).parent / "quantdesk").exists() \
    else [str(Path(sys.executable).parent / "quantdesk")]


def _wall(args: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def _heavy_imports(args: list[str], env: dict[str, str]) -> list[str]:
    run = subprocess.run([sys.executable, "-X", "importtime", *args[1:]] if args[0] == sys.executable
                         else [sys.executable, "-X", "importtime", args[0], *args[1:]],
                         env=env, capture_output=True, text=True, check=False)
    top = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    return sorted(m for m in top if m in HEAVY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median reported)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "QUANTDESK_HOME": home, "COLUMNS": "100"}
        floor = _wall([sys.executable, "-c", "pass"], env, opts.repeat)
        results = []
        for command in COMMANDS:
            times = _wall([*CLI, *command], env, opts.repeat)
            results.append({
                "command": "quantdesk " + " ".join(command),
                "median_s": round(statistics.median(times), 3),
                "min_s": round(min(times), 3),
                "goal_s": 0.5,
                "heavy_imports": _heavy_imports([*CLI, *command], env),
            })
    print(json.dumps({"benchmark": "cli_startup", "repeat": opts.repeat,
                      "python_baseline_s": round(statistics.median(floor), 3), "commands": results}, indent=2))


if __name__ == "__main__":
    main()
