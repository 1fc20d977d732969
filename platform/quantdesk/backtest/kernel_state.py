"""The per-combination state row of the sweep kernels, and the metric columns they produce.

Shared by `kernels` (which fills the state) and `kernel_metrics` (which turns it into metrics).
"""

from __future__ import annotations

# Per-combination state carried across bar segments (indices into a float64 row).
_CASH, _POS, _DEBT, _FREE, _HELD, _PENDING, _PREV_EQ, _PEAK, _PEAK_T = range(9)
_MDD, _MDD_DUR, _SUM_R, _SUM_R2, _SUM_D2, _N_OBS, _EXPO = range(9, 16)
_TRADES, _WINS, _GROSS_P, _GROSS_L, _FEES, _NOTIONAL, _TRADE_PNL, _OPEN_TRADES = range(16, 24)
_N_STATE = 24

METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_bars",
    "calmar",
    "trades",
    "win_rate",
    "profit_factor",
    "avg_trade",
    "exposure",
    "turnover",
    "fees_paid",
    "final_equity",
    "open_trades",
    "max_drawdown_duration_days",
    "n_bars",
)
