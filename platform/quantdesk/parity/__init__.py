"""Parity and drift: does the live path agree with the backtest? (issue 5, "Replay and parity").

`parity_report` replays a deployment through the runner and compares it with a backtest
over the same candles and cost model, bar by bar; `drift_report` compares a paper/live
deployment's real fills (from the ledger) with a backtest over the same window. The
live-promotion gate reads `DriftReport.drift_bps`.
"""

from quantdesk.parity.compare import DifferenceKind, ParityDifference, compare_runs
from quantdesk.parity.drift import DeniedOrder, DriftReport, DriftTrade, drift_equity, drift_report
from quantdesk.parity.parity import ParityReport, parity_report

__all__ = [
    "DeniedOrder",
    "DifferenceKind",
    "DriftReport",
    "DriftTrade",
    "ParityDifference",
    "ParityReport",
    "compare_runs",
    "drift_equity",
    "drift_report",
    "parity_report",
]
