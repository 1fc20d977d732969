"""Regenerate the golden backtest results in tests/backtest/golden/ (run only on purpose).

The golden case (strategy, params, costs, dataset) is tests/backtest/golden/case.json; the
dataset is real Binance candles from ../shared/data. Review the diff of expected.json
before committing: a change means backtest results changed.

Usage: .venv/bin/python scripts/regen_golden.py [--shared-data PATH]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "backtest" / "golden"


def load_case() -> dict[str, Any]:
    """Return the golden case definition."""
    return json.loads((GOLDEN / "case.json").read_text())


def load_candles(shared_data: Path, dataset: str) -> pl.DataFrame:
    """Read a freqtrade Feather file as candles (ts in ms, UTC)."""
    frame = pl.read_ipc(shared_data / dataset)
    return frame.rename({"date": "ts"}).with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")))


def run_case(shared_data: Path) -> dict[str, Any]:
    """Run the golden case and return {metrics, trades} as JSON-ready data."""
    from quantdesk.backtest import backtest
    from quantdesk.core import CostModel

    case = load_case()
    result = backtest(
        case["strategy"],
        load_candles(shared_data, case["dataset"]),
        params=case["params"],
        cost=CostModel(**case["cost"]),
        initial_cash=case["initial_cash"],
        allow_short=case["allow_short"],
        timeframe=case["timeframe"],
        store=False,
    )
    trades = result.trades.with_columns(
        pl.col("entry_ts").dt.to_string("%Y-%m-%dT%H:%M:%S%z"),
        pl.col("exit_ts").dt.to_string("%Y-%m-%dT%H:%M:%S%z"),
    )
    return {"checksum": result.snapshot.checksum, "metrics": result.metrics.to_json(), "trades": trades.to_dicts()}


def main() -> None:
    default = Path(os.environ.get("QUANTDESK_SHARED_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=default)
    args = parser.parse_args()
    out = run_case(args.shared_data)
    path = GOLDEN / "expected.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"written": str(path), "trades": len(out["trades"]), "metrics": out["metrics"]}))


if __name__ == "__main__":
    main()
