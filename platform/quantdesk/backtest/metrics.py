"""Backtest metrics: the single documented source of their definitions.

The fused sweep kernels (`quantdesk.backtest.kernels`) reproduce these numbers and are
tested for equality against this module; the tests also check them against empyrical.

Definitions (crypto trades every day, so a year is 365 days of bars):

- `ann` = 365 * bars_per_day, bars_per_day = 86_400_000 / timeframe_ms.
- Bar returns `r_t = equity_t / equity_{t-1} - 1` over the run's bars, the first bar's
  return taken against the initial cash, so there are n_bars return observations.
- `total_return` = final_equity / initial_cash - 1.
- `cagr` = (final_equity / initial_cash) ** (ann / n_bars) - 1 (-1.0 when equity hit 0,
  +inf past float range).
- `volatility` = std(r, ddof=1) * sqrt(ann).
- `sharpe` = mean(r) / std(r, ddof=1) * sqrt(ann), risk-free 0; 0.0 when std == 0.
- `sortino` = mean(r) * ann / (sqrt(mean(min(r, 0) ** 2)) * sqrt(ann)) (empyrical's downside
  risk). With no downside: +inf when mean(r) > 0, else 0.0.
- `max_drawdown` = min(E / cummax(E) - 1) over E = [initial_cash, equity_0, ..., equity_{n-1}]
  (<= 0; the initial cash counts as the first peak, as in empyrical).
- `max_drawdown_duration_bars` = the longest span, in bars, from a peak of E to the first bar
  that regains it (or to the last bar when it is never regained);
  `max_drawdown_duration_days` is the same span in days.
- `calmar` = cagr / |max_drawdown|; NaN when max_drawdown == 0.
- Trades are round trips: a position opening from flat until it returns to flat or flips
  sign (a flip closes one trade and opens another). `trades` counts closed round trips;
  a position still open at the end is reported as `open_trades` and not counted.
- `win_rate` = winners / trades (pnl > 0; NaN without trades).
- `profit_factor` = gross profit / |gross loss| of closed trades; +inf with profit and no
  loss, NaN with neither.
- `avg_trade` = mean closed-trade pnl, net of fees (NaN without trades).
- `exposure` = fraction of bars that end with a non-zero position.
- `turnover` = sum(|traded notional|) / initial_cash (all fills, both sides).
- `fees_paid` = sum of fees of all fills.

In JSON, non-finite values (inf, NaN) are written as null.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Metrics",
    "annualization",
    "bar_returns",
    "cagr",
    "compute_metrics",
    "drawdown_duration",
    "max_drawdown",
    "sharpe",
    "sortino",
    "volatility",
]

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """The full metric set of one run (definitions in this module's docstring)."""

    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_duration_bars: int
    max_drawdown_duration_days: float
    calmar: float
    trades: int
    open_trades: int
    win_rate: float
    profit_factor: float
    avg_trade: float
    exposure: float
    turnover: float
    fees_paid: float
    final_equity: float
    n_bars: int

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as a dict; adds `max_drawdown_duration` (= the duration in bars)."""
        out = asdict(self)
        out["max_drawdown_duration"] = self.max_drawdown_duration_bars
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the metrics as a JSON-ready dict (non-finite floats become None)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.as_dict().items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        """Rebuild metrics stored with `to_json` (None becomes NaN)."""
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        values: dict[str, Any] = {k: (math.nan if v is None else v) for k, v in data.items() if k in names}
        return cls(**values)


def annualization(timeframe_ms: int) -> float:
    """Return bars per year: 365 * 86_400_000 / timeframe_ms."""
    if timeframe_ms <= 0:
        raise ValueError(f"timeframe_ms must be > 0, got {timeframe_ms}")
    return 365.0 * _DAY_MS / timeframe_ms


def bar_returns(equity: np.ndarray, initial_cash: float) -> np.ndarray:
    """Return r_t = equity_t / equity_{t-1} - 1, the first bar against `initial_cash`."""
    eq = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate(([float(initial_cash)], eq[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev != 0, eq / prev - 1.0, 0.0)


def volatility(returns: np.ndarray, ann: float) -> float:
    """Return std(r, ddof=1) * sqrt(ann) (NaN with fewer than 2 returns)."""
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(ann))


def sharpe(returns: np.ndarray, ann: float) -> float:
    """Return mean(r) / std(r, ddof=1) * sqrt(ann); 0.0 when std is 0 or undefined."""
    if len(returns) < 2:
        return 0.0
    std = float(np.std(returns, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return 0.0
    return float(np.mean(returns) / std * math.sqrt(ann))


def sortino(returns: np.ndarray, ann: float) -> float:
    """Return mean(r) * ann / (sqrt(mean(min(r, 0)^2)) * sqrt(ann)); +inf or 0.0 without downside."""
    if len(returns) == 0:
        return 0.0
    mean = float(np.mean(returns))
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) * math.sqrt(ann)
    if downside == 0.0:
        return math.inf if mean > 0 else 0.0
    return mean * ann / downside


def cagr(final_equity: float, initial_cash: float, n_bars: int, ann: float) -> float:
    """Return (final / initial) ** (ann / n_bars) - 1 (-1.0 when the equity is gone)."""
    if n_bars == 0:
        return 0.0
    growth = final_equity / initial_cash
    if growth <= 0:
        return -1.0
    try:
        return float(growth ** (ann / n_bars) - 1.0)
    except OverflowError:  # a big gain over few bars annualises past float range
        return math.inf


def _with_start(equity: np.ndarray, initial_cash: float) -> np.ndarray:
    return np.concatenate(([float(initial_cash)], np.asarray(equity, dtype=np.float64)))


def max_drawdown(equity: np.ndarray, initial_cash: float) -> float:
    """Return min(E / cummax(E) - 1) with E = [initial_cash, *equity] (a number <= 0)."""
    e = _with_start(equity, initial_cash)
    peak = np.maximum.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, e / peak - 1.0, -1.0)
    return float(min(dd.min(), 0.0))


def drawdown_duration(equity: np.ndarray, initial_cash: float) -> int:
    """Return the longest peak-to-recovery span in bars (to the last bar if never recovered)."""
    e = _with_start(equity, initial_cash)
    peak = np.maximum.accumulate(e)
    at_peak = e >= peak
    idx = np.arange(len(e))
    # Index of the latest peak at or before each bar; a recovery bar is itself a new peak.
    last_peak = np.maximum.accumulate(np.where(at_peak, idx, 0))
    prev_peak = np.concatenate(([0], last_peak[:-1]))
    underwater_span = np.where(at_peak, idx - prev_peak, idx - last_peak)
    # A bar at a peak right after another peak is not a recovery (span 1 means no drawdown).
    recovered = at_peak & ~np.concatenate(([True], at_peak[:-1]))
    spans = np.where(at_peak, np.where(recovered, underwater_span, 0), underwater_span)
    return int(spans.max()) if len(spans) else 0


def compute_metrics(
    *,
    equity: np.ndarray,
    initial_cash: float,
    timeframe_ms: int,
    position: np.ndarray,
    trade_pnl: np.ndarray,
    open_trades: int,
    fees_paid: float,
    traded_notional: float,
) -> Metrics:
    """Compute the full metric set.

    `equity` is the per-bar equity marked at the close, `position` the per-bar position
    (any unit; only "non-zero" matters; 2-D for several assets), `trade_pnl` the net pnl of
    each closed round trip, `traded_notional` the sum of |qty * price| of all fills.
    """
    eq = np.asarray(equity, dtype=np.float64)
    n = len(eq)
    ann = annualization(timeframe_ms)
    r = bar_returns(eq, initial_cash)
    final = float(eq[-1]) if n else float(initial_cash)
    mdd = max_drawdown(eq, initial_cash)
    dd_bars = drawdown_duration(eq, initial_cash)
    growth = cagr(final, initial_cash, n, ann)
    pnl = np.asarray(trade_pnl, dtype=np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_profit, gross_loss = float(wins.sum()), float(-losses.sum())
    if gross_loss > 0:
        profit_factor = gross_profit / gross_loss
    else:
        profit_factor = math.inf if gross_profit > 0 else math.nan
    pos = np.asarray(position, dtype=np.float64)
    in_market = (pos != 0).any(axis=1) if pos.ndim == 2 else pos != 0
    return Metrics(
        total_return=final / initial_cash - 1.0,
        cagr=growth,
        volatility=volatility(r, ann),
        sharpe=sharpe(r, ann),
        sortino=sortino(r, ann),
        max_drawdown=mdd,
        max_drawdown_duration_bars=dd_bars,
        max_drawdown_duration_days=dd_bars * timeframe_ms / _DAY_MS,
        calmar=growth / abs(mdd) if mdd < 0 else math.nan,
        trades=len(pnl),
        open_trades=int(open_trades),
        win_rate=len(wins) / len(pnl) if len(pnl) else math.nan,
        profit_factor=profit_factor,
        avg_trade=float(pnl.mean()) if len(pnl) else math.nan,
        exposure=float(in_market.mean()) if n else 0.0,
        turnover=float(traded_notional) / initial_cash,
        fees_paid=float(fees_paid),
        final_equity=final,
        n_bars=n,
    )
