"""Backtests on vectorbt: engine, metrics, lookahead check, run store and reports.

Sweeps, walk-forward and overfitting statistics (built on the same engine and metrics) are
re-exported lazily from their modules, so this package imports without them.
"""

from __future__ import annotations

import importlib
from typing import Any

from quantdesk.backtest.data import DataSnapshot, LakeQuery
from quantdesk.backtest.engine import BacktestResult, backtest
from quantdesk.backtest.lookahead import LookaheadVerdict, assert_no_lookahead, check_lookahead
from quantdesk.backtest.metrics import Metrics, compute_metrics
from quantdesk.backtest.reproduce import Reproduction, reproduce
from quantdesk.backtest.store import StoredRun, list_runs, load_run, save_run

# name -> module, for the sweep/walk-forward layer (engineer "sweep"); loaded on first use.
_LAZY: dict[str, str] = {
    "OverfittingReport": "quantdesk.backtest.overfitting",
    "SweepResult": "quantdesk.backtest.sweep",
    "futures_backtest": "quantdesk.backtest.futures",
    "WalkForwardResult": "quantdesk.backtest.walkforward",
    "sweep": "quantdesk.backtest.sweep",
    "walk_forward": "quantdesk.backtest.walkforward",
    "write_report": "quantdesk.backtest.report",
}

__all__ = [
    "BacktestResult",
    "DataSnapshot",
    "LakeQuery",
    "LookaheadVerdict",
    "Metrics",
    "OverfittingReport",  # noqa: F822 - lazy, see _LAZY
    "Reproduction",
    "StoredRun",
    "SweepResult",  # noqa: F822
    "WalkForwardResult",  # noqa: F822
    "assert_no_lookahead",
    "backtest",
    "check_lookahead",
    "compute_metrics",
    "futures_backtest",  # noqa: F822 - lazy, see _LAZY
    "list_runs",
    "load_run",
    "reproduce",
    "save_run",
    "sweep",  # noqa: F822 - lazy, see _LAZY
    "walk_forward",  # noqa: F822
    "write_report",  # noqa: F822
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'quantdesk.backtest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
