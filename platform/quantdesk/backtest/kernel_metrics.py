"""Turn the sweep kernels' per-combination state into metric columns (vectorised numpy).

Definitions are those of `quantdesk.backtest.metrics`, the single source.
"""

from __future__ import annotations

import math

import numpy as np

from quantdesk.backtest.kernel_state import (
    _EXPO,
    _FEES,
    _GROSS_L,
    _GROSS_P,
    _MDD,
    _MDD_DUR,
    _N_OBS,
    _NOTIONAL,
    _PEAK_T,
    _POS,
    _PREV_EQ,
    _SUM_D2,
    _SUM_R,
    _SUM_R2,
    _TRADES,
    _WINS,
)

__all__ = ["finalize_metrics"]


def finalize_metrics(
    states: np.ndarray, init_cash: float, bars_per_year: float, timeframe_ms: int | None = None
) -> dict[str, np.ndarray]:
    """Turn kernel states into the metric columns of `METRIC_NAMES` (vectorised, per combination).

    Edge cases follow `quantdesk.backtest.metrics`: Sharpe 0 without variance, Sortino +inf
    (mean > 0) or 0 without downside, CAGR -1 when equity is gone, Calmar NaN without drawdown.
    """
    n = states[:, _N_OBS]
    final = states[:, _PREV_EQ]
    mean = states[:, _SUM_R] / n
    ann = float(bars_per_year)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        var = (states[:, _SUM_R2] - n * mean * mean) / (n - 1)
        std = np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)
        sharpe = np.where((std > 0) & np.isfinite(std), mean / std * math.sqrt(ann), 0.0)
        downside = np.sqrt(states[:, _SUM_D2] / n) * math.sqrt(ann)
        sortino = np.where(downside > 0, mean * ann / downside, np.where(mean > 0, np.inf, 0.0))
        growth = final / init_cash
        cagr = np.where(growth > 0, np.abs(growth) ** (ann / n) - 1.0, -1.0)
        mdd = states[:, _MDD]
        calmar = np.where(mdd < 0, cagr / np.abs(mdd), np.nan)
        trades = states[:, _TRADES]
        win_rate = np.where(trades > 0, states[:, _WINS] / trades, np.nan)
        gross_p, gross_l = states[:, _GROSS_P], states[:, _GROSS_L]
        profit_factor = np.where(gross_l > 0, gross_p / gross_l, np.where(gross_p > 0, np.inf, np.nan))
        avg_trade = np.where(trades > 0, (gross_p - gross_l) / trades, np.nan)
    # The last drawdown counts to the last bar when equity never regained its peak.
    dur = np.maximum(states[:, _MDD_DUR], (n - 1) - states[:, _PEAK_T]).astype(np.int64)
    out = {
        "total_return": growth - 1.0,
        "cagr": cagr,
        "volatility": std * math.sqrt(ann),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "max_drawdown_duration_bars": dur,
        "calmar": calmar,
        "trades": trades.astype(np.int64),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "avg_trade": avg_trade,
        "exposure": states[:, _EXPO] / n,
        "turnover": states[:, _NOTIONAL] / init_cash,
        "fees_paid": states[:, _FEES],
        "final_equity": final,
        "open_trades": (states[:, _POS] != 0).astype(np.int64),
    }
    tf_ms = timeframe_ms if timeframe_ms is not None else 86_400_000 * 365 / ann
    out["max_drawdown_duration_days"] = dur * tf_ms / 86_400_000
    out["n_bars"] = n.astype(np.int64)
    return out
