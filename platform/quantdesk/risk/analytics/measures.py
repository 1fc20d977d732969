"""VaR and expected shortfall of one return series or of a book, with Euler contributions.

The definitions are in the package docstring (`quantdesk.risk.analytics`); every method works on
the matrix S of position P&L per scenario (rows) and position (columns), so one return series is
the book with a single position of exposure 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from quantdesk.core.errors import RiskError
from quantdesk.risk.analytics.methods import (
    cornish_fisher,
    ewma_scale,
    garch_scale,
    gaussian,
    horizon_returns,
    monte_carlo,
)

__all__ = ["MIN_OBSERVATIONS_NOTE", "Distribution", "VarMethod", "VarResult", "VolatilityFilter", "book_var",
           "check_confidence", "check_method", "minimum_observations", "rolling_var", "value_at_risk"]

MIN_OBSERVATIONS_NOTE = "at least 1/(1 - confidence) observations, so that one falls in the tail"
_SQRT_2PI = math.sqrt(2.0 * math.pi)


class VarMethod(StrEnum):
    """How VaR and ES are estimated (definitions in `quantdesk.risk.analytics`)."""

    HISTORICAL = "historical"
    GAUSSIAN = "gaussian"
    CORNISH_FISHER = "cornish-fisher"
    FILTERED_HISTORICAL = "filtered-historical"
    MONTE_CARLO = "monte-carlo"


class VolatilityFilter(StrEnum):
    """The conditional volatility of `filtered-historical`."""

    EWMA = "ewma"
    GARCH = "garch"


class Distribution(StrEnum):
    """The draws of `monte-carlo`."""

    NORMAL = "normal"
    STUDENT_T = "t"


@dataclass(frozen=True, slots=True, kw_only=True)
class VarResult:
    """VaR and ES (positive losses) with each position's Euler contribution (they sum to the totals).

    `var`/`es`: fractions of the gross exposure (of the position for one series); `var_quote`/
    `es_quote`: in the exposures' currency. `observations`: scenarios used (days, or H-day windows).
    """

    method: VarMethod
    confidence: float
    horizon_days: int
    observations: int
    var_quote: float
    es_quote: float
    gross_quote: float
    var_contributions: tuple[float, ...]
    es_contributions: tuple[float, ...]

    @property
    def var(self) -> float:
        return self.var_quote / self.gross_quote if self.gross_quote else 0.0

    @property
    def es(self) -> float:
        return self.es_quote / self.gross_quote if self.gross_quote else 0.0


def _parse(enum: type[StrEnum], value: Any, what: str) -> Any:
    try:
        return enum(str(value).lower())
    except ValueError:
        known = ", ".join(m.value for m in enum)  # type: ignore[attr-defined]
        raise RiskError(f"unknown {what} {value!r}; use one of: {known}") from None


def check_method(method: VarMethod | str) -> VarMethod:
    """Return the method named `method`, else raise RiskError listing the known ones."""
    return _parse(VarMethod, method, "method")


def check_confidence(confidence: float) -> float:
    """Return `confidence` if it is in (0.5, 1), else raise RiskError naming the fix."""
    c = float(confidence)
    if not 0.5 < c < 1.0:
        raise RiskError(f"confidence {confidence} is outside (0.5, 1); give a level such as 0.99 (99 %) or 0.95")
    return c


def minimum_observations(confidence: float) -> int:
    """Return ⌈1/(1 − c)⌉: the fewest observations that leave one in the tail (100 at 99 %)."""
    return math.ceil(1.0 / (1.0 - check_confidence(confidence)) - 1e-9)


def _require(count: int, confidence: float, what: str) -> None:
    need = minimum_observations(confidence)
    if count < need:
        raise RiskError(f"{confidence:.4g} VaR needs {need} {what} ({MIN_OBSERVATIONS_NOTE}); got {count}: "
                        "lengthen the window or lower the confidence")


def _quantile_weights(n: int, alpha: float) -> tuple[int, int, float]:
    """Return (j, j + 1, g) of numpy's linear quantile: (1 − g)·x_(j) + g·x_(j+1)."""
    h = (n - 1) * alpha
    j = min(int(math.floor(h)), n - 1)
    return j, min(j + 1, n - 1), h - j


def _tail_of(pnl: np.ndarray, rows: Callable[[np.ndarray], np.ndarray], alpha: float
             ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Historical VaR and ES of the book's scenario P&L `pnl` and the contributions; `rows(indices)`
    gives those scenarios' position P&L (rows: scenarios, columns: positions)."""
    q = float(np.quantile(pnl, alpha))
    lo, hi, g = _quantile_weights(pnl.size, alpha)
    order = np.argpartition(pnl, (lo, hi)) if pnl.size > 1 else np.zeros(1, dtype=np.intp)
    edge = rows(order[[lo, hi]])
    var_c = -((1.0 - g) * edge[0] + g * edge[1])
    tail = np.flatnonzero(pnl <= q)
    es_c = -rows(tail).mean(axis=0)
    return -q, -float(pnl[tail].mean()), var_c, es_c


def _tail(scenarios: np.ndarray, alpha: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Historical VaR and ES of the scenario matrix (rows: scenarios, columns: positions) and contributions."""
    return _tail_of(scenarios.sum(axis=1), lambda idx: scenarios[idx], alpha)


def book_var(
    returns: np.ndarray | Sequence[Sequence[float]],
    exposures: np.ndarray | Sequence[float],
    assets: np.ndarray | Sequence[int] | None = None,
    *,
    confidence: float = 0.99,
    method: VarMethod | str = VarMethod.HISTORICAL,
    horizon_days: int = 1,
    volatility_filter: VolatilityFilter | str = VolatilityFilter.EWMA,
    ewma_decay: float = 0.94,
    distribution: Distribution | str = Distribution.NORMAL,
    dof: float = 5.0,
    paths: int = 100_000,
    seed: int = 0,
) -> VarResult:
    """Return the VaR and ES of a book (position-based simulation) with each position's contribution.

    `returns`: T days × n assets of simple returns; `exposures`: each position's signed quote
    exposure; `assets`: each position's column in `returns` (default: position i on column i).
    """
    c = check_confidence(confidence)
    kind = check_method(method)
    if horizon_days not in (1, 10):
        raise RiskError(f"horizon {horizon_days}d is not supported; use 1d or 10d")
    r = np.asarray(returns, dtype=float)
    if r.ndim == 1:
        r = r[:, None]
    x = np.asarray(exposures, dtype=float).ravel()
    idx = np.arange(x.size) if assets is None else np.asarray(assets, dtype=np.intp).ravel()
    if r.ndim != 2 or idx.size != x.size or (idx.size and (idx.min() < 0 or idx.max() >= r.shape[1])):
        raise RiskError(f"returns {r.shape} and {x.size} positions on columns {idx.tolist()[:5]} do not match")
    if x.size == 0:
        raise RiskError("the book has no positions: nothing to measure")
    bad = int((~np.isfinite(r[:, np.unique(idx)])).sum()) + int((~np.isfinite(x)).sum())
    if bad:
        raise RiskError(f"returns or exposures hold {bad} NaN or infinite values; drop the gaps before measuring")
    alpha = 1.0 - c
    _require(r.shape[0], c, "daily observations")
    if kind is VarMethod.HISTORICAL:
        sample = horizon_returns(r, horizon_days)
        _require(sample.shape[0], c, f"overlapping {horizon_days}-day returns")
        var, es, var_c, es_c = _tail(sample[:, idx] * x, alpha)
        count = sample.shape[0]
    elif kind is VarMethod.GAUSSIAN:
        var, es, var_c, es_c = gaussian(r[:, idx] * x, c, horizon_days)
        count = r.shape[0]
    elif kind is VarMethod.CORNISH_FISHER:
        var, es, var_c, es_c = cornish_fisher(r[:, idx] * x, c, horizon_days)
        count = r.shape[0]
    elif kind is VarMethod.FILTERED_HISTORICAL:
        scenarios = r[:, idx] * x
        pnl = scenarios.sum(axis=1)
        flt = _parse(VolatilityFilter, volatility_filter, "volatility filter")
        scale = ewma_scale(pnl, ewma_decay) if flt is VolatilityFilter.EWMA else garch_scale(pnl)
        var, es, var_c, es_c = _tail(scenarios * scale[:, None], alpha)
        root = math.sqrt(horizon_days)
        var, es, var_c, es_c = var * root, es * root, var_c * root, es_c * root
        count = r.shape[0]
    else:
        dist = _parse(Distribution, distribution, "distribution")
        pnl, rows = monte_carlo(r, idx, x, horizon_days, dist is Distribution.STUDENT_T, float(dof), int(paths),
                                int(seed))
        var, es, var_c, es_c = _tail_of(pnl, rows, alpha)
        count = r.shape[0]
    return VarResult(method=kind, confidence=c, horizon_days=horizon_days, observations=int(count),
                     var_quote=float(var), es_quote=float(es), gross_quote=float(np.abs(x).sum()),
                     var_contributions=tuple(float(v) for v in var_c), es_contributions=tuple(float(v) for v in es_c))


def rolling_var(
    returns: np.ndarray | Sequence[Sequence[float]],
    exposures: np.ndarray | Sequence[float],
    assets: np.ndarray | Sequence[int] | None = None,
    *,
    window: int,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, for each day t from `window` on, the VaR and ES from the `window` days before t and
    the book's P&L on t: the out-of-sample series a VaR backtest compares (`backtest_var`).

    `options`: those of `book_var` (confidence, method, horizon_days=1, ...).
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim == 1:
        r = r[:, None]
    x = np.asarray(exposures, dtype=float).ravel()
    idx = np.arange(x.size) if assets is None else np.asarray(assets, dtype=np.intp).ravel()
    if not 1 <= window < r.shape[0]:
        raise RiskError(f"a rolling window of {window} days needs more than {window} days of returns; got {r.shape[0]}")
    results = [book_var(r[t - window:t], x, idx, **options) for t in range(window, r.shape[0])]
    pnl = r[window:, idx] @ x
    return (np.array([v.var_quote for v in results]), np.array([v.es_quote for v in results]), pnl)


def value_at_risk(
    returns: np.ndarray | Sequence[float],
    confidence: float = 0.99,
    method: VarMethod | str = VarMethod.HISTORICAL,
    **options: Any,
) -> VarResult:
    """Return the VaR and ES of one return series as positive loss fractions (`.var`, `.es`).

    `options`: `horizon_days`, `volatility_filter`, `ewma_decay`, `distribution`, `dof`, `paths`,
    `seed` (see `book_var`).

        value_at_risk(returns, 0.99, "cornish-fisher").var   # e.g. 0.052: 5.2 % of the position
    """
    series = np.asarray(returns, dtype=float).ravel()
    return book_var(series[:, None], [1.0], confidence=confidence, method=method, **options)
