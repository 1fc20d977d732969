"""The desk's book: positions from the ledger, valued with the lake's returns (issue 25).

This layer sits on `risk` (pure analytics over returns and positions, `quantdesk.risk.analytics`),
`ledger` (fills, deployments, the stored VaR series) and `lake` (daily bars built from the finest
stored timeframe) and imports nothing else of ours: `risk` imports only `core`, so whatever reads
the ledger's positions and the lake's candles lives here, below `promotion` and `broker`, whose
gate factories (`broker.factory.open_gated`, `live.service`) hand its VaR model to the gates; the
CLI, the monitor, the desk's pages and the desk report call it too.
"""

from quantdesk.book.book import Book, desk_equity, load_book
from quantdesk.book.gate import DeskVarSource, gate_var_source
from quantdesk.book.positions import BookPosition, book_positions
from quantdesk.book.series import VarBacktestReport, VarMonitorReport, backtest_report, monitor_var
from quantdesk.book.stress import ScenarioSpec, StressReport, scenario_specs, stress_report
from quantdesk.book.var import BookVar, Contribution, book_var_report, measure_book

__all__ = [
    "Book",
    "BookPosition",
    "BookVar",
    "Contribution",
    "DeskVarSource",
    "ScenarioSpec",
    "StressReport",
    "VarBacktestReport",
    "VarMonitorReport",
    "backtest_report",
    "book_positions",
    "book_var_report",
    "desk_equity",
    "gate_var_source",
    "load_book",
    "measure_book",
    "monitor_var",
    "scenario_specs",
    "stress_report",
]
