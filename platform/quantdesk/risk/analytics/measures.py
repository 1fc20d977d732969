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
from scipy.special import ndtri

from quantdesk.core.errors import RiskError

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


def _horizon_returns(returns: np.ndarray, days: int) -> np.ndarray:
    """Overlapping `days`-day compound returns of each column."""
    if days == 1:
        return returns
    growth = np.vstack([np.ones((1, returns.shape[1])), np.cumprod(1.0 + returns, axis=0)])
    return growth[days:] / growth[:-days] - 1.0


def _gaussian(scenarios: np.ndarray, confidence: float, horizon: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    pnl = scenarios.sum(axis=1)
    n = pnl.size
    mu_c = scenarios.mean(axis=0)
    mu = float(pnl.mean())
    centred = pnl - mu
    sigma = float(math.sqrt(centred @ centred / (n - 1)))
    cov_c = (scenarios - mu_c).T @ centred / (n - 1)  # cov(P_i, p): sums to var(p)
    z = float(ndtri(confidence))
    es_ratio = math.exp(-0.5 * z * z) / _SQRT_2PI / (1.0 - confidence)
    root = math.sqrt(horizon)
    share = cov_c / sigma if sigma > 0 else np.zeros_like(cov_c)
    var_c = z * root * share - horizon * mu_c
    es_c = es_ratio * root * share - horizon * mu_c
    return z * root * sigma - horizon * mu, es_ratio * root * sigma - horizon * mu, var_c, es_c


def _cornish_fisher(scenarios: np.ndarray, confidence: float, horizon: int
                    ) -> tuple[float, float, np.ndarray, np.ndarray]:
    pnl = scenarios.sum(axis=1)
    n = pnl.size
    alpha = 1.0 - confidence
    mu_c = scenarios.mean(axis=0)
    mu = float(pnl.mean())
    d = pnl - mu
    c = scenarios - mu_c
    d2 = d * d
    m2, m3, m4 = float(d2.mean()), float((d2 * d).mean()), float((d2 * d2).mean())
    if m2 <= 0:
        raise RiskError("the P&L has no variance (constant returns): Cornish-Fisher VaR is undefined; "
                        "use --method historical")
    sigma = math.sqrt(m2 * n / (n - 1))
    skew, kurt = m3 / m2**1.5, m4 / m2**2 - 3.0
    z = float(ndtri(alpha))
    h = z + (z * z - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36
    # x_i times the derivatives: a_k = x_i ∂m_k/∂x_i = k·mean(d^(k-1)·c_i); they sum to k·m_k
    a2 = 2.0 * (c.T @ d) / n
    a3 = 3.0 * (c.T @ d2) / n
    a4 = 4.0 * (c.T @ (d2 * d)) / n
    x_sigma = (c.T @ d) / (n - 1) / sigma  # sums to σ
    x_skew = (a3 * m2**1.5 - m3 * 1.5 * m2**0.5 * a2) / m2**3  # sums to 0 (S is scale free)
    x_kurt = (a4 * m2**2 - m4 * 2.0 * m2 * a2) / m2**4
    x_h = (z * z - 1) * x_skew / 6 + (z**3 - 3 * z) * x_kurt / 24 - (2 * z**3 - 5 * z) * skew * x_skew / 18
    root = math.sqrt(horizon)
    var = -horizon * mu - root * h * sigma
    var_c = -horizon * mu_c - root * (h * x_sigma + sigma * x_h)
    phi = math.exp(-0.5 * h * h) / _SQRT_2PI
    poly = 1 + h**3 * skew / 6 + (h**6 - 9 * h**4 + 9 * h**2 + 3) * skew**2 / 72 + (h**4 - 2 * h**2 - 1) * kurt / 24
    e = -phi * poly / alpha
    if h <= e:  # the operational floor: ES never below VaR
        return var, var, var_c, var_c.copy()
    dpoly_dh = 3 * h**2 * skew / 6 + (6 * h**5 - 36 * h**3 + 18 * h) * skew**2 / 72 + (4 * h**3 - 4 * h) * kurt / 24
    de_dh = -(-h * phi * poly + phi * dpoly_dh) / alpha
    de_ds = -phi * (h**3 / 6 + 2 * skew * (h**6 - 9 * h**4 + 9 * h**2 + 3) / 72) / alpha
    de_dk = -phi * (h**4 - 2 * h**2 - 1) / 24 / alpha
    x_e = de_dh * x_h + de_ds * x_skew + de_dk * x_kurt
    es = -horizon * mu - root * sigma * e
    es_c = -horizon * mu_c - root * (e * x_sigma + sigma * x_e)
    return var, es, var_c, es_c


def _ewma_scale(pnl: np.ndarray, decay: float) -> np.ndarray:
    """Return σ_{T+1}/σ_t for each day of the RiskMetrics EWMA filter."""
    if not 0.0 < decay < 1.0:
        raise RiskError(f"EWMA decay {decay} is outside (0, 1); RiskMetrics uses 0.94")
    variance = np.empty(pnl.size + 1)
    variance[0] = float(np.mean(pnl * pnl))
    squared = (1.0 - decay) * pnl * pnl
    for t in range(pnl.size):  # T steps of a scalar recursion; cheap next to the quantile
        variance[t + 1] = decay * variance[t] + squared[t]
    if variance[0] <= 0:
        raise RiskError("the P&L has no variance (constant returns): nothing to filter; use --method historical")
    return np.sqrt(variance[-1] / variance[:-1])


def _garch_scale(pnl: np.ndarray) -> np.ndarray:
    """Return σ_{T+1}/σ_t of a zero-mean GARCH(1,1) fitted by `arch`."""
    import warnings

    from arch import arch_model
    from arch.utility.exceptions import ConvergenceWarning

    spread = float(pnl.std())
    if spread <= 0:
        raise RiskError("the P&L has no variance (constant returns): nothing to filter; use --method historical")
    scaled = pnl / spread * 10.0  # arch fits best on data with a standard deviation of 1-100
    model = arch_model(scaled, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # judged by the flag below instead
        fit = model.fit(disp="off", show_warning=False)
    if fit.convergence_flag != 0:
        raise RiskError("the GARCH(1,1) fit did not converge on this P&L; use the EWMA filter (--filter ewma) "
                        "or a longer window")
    sigma = np.asarray(fit.conditional_volatility, dtype=float)
    forecast = float(np.sqrt(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]))
    return forecast / sigma


def _covariance_root(cov: np.ndarray) -> np.ndarray:
    """Return L with L Lᵀ = cov (eigen-decomposition: works for singular covariances too)."""
    values, vectors = np.linalg.eigh(cov)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _monte_carlo(returns: np.ndarray, assets: np.ndarray, exposures: np.ndarray, alpha: float, horizon: int,
                 distribution: Distribution, dof: float, paths: int, seed: int
                 ) -> tuple[float, float, np.ndarray, np.ndarray]:
    if paths < 1:
        raise RiskError(f"monte-carlo needs at least one path, got {paths}")
    used = np.unique(assets)
    sample = returns[:, used]
    mean = sample.mean(axis=0)
    cov = np.atleast_2d(np.cov(sample, rowvar=False, ddof=1))
    root = _covariance_root(cov) * math.sqrt(horizon)
    rng = np.random.default_rng(seed)
    draws = rng.standard_normal((paths, used.size)) @ root.T
    if distribution is Distribution.STUDENT_T:
        if dof <= 2:
            raise RiskError(f"a Student-t with {dof} degrees of freedom has no variance; use dof > 2 (e.g. 5)")
        draws *= np.sqrt((dof - 2.0) / rng.chisquare(dof, size=paths))[:, None]
    draws += horizon * mean
    column = np.searchsorted(used, assets)
    per_asset = np.zeros(used.size)
    np.add.at(per_asset, column, exposures)
    # the book's P&L per draw without the draws x positions matrix; positions only for the tail's rows
    return _tail_of(draws @ per_asset, lambda idx: draws[idx][:, column] * exposures, alpha)


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
        sample = _horizon_returns(r, horizon_days)
        _require(sample.shape[0], c, f"overlapping {horizon_days}-day returns")
        var, es, var_c, es_c = _tail(sample[:, idx] * x, alpha)
        count = sample.shape[0]
    elif kind is VarMethod.GAUSSIAN:
        var, es, var_c, es_c = _gaussian(r[:, idx] * x, c, horizon_days)
        count = r.shape[0]
    elif kind is VarMethod.CORNISH_FISHER:
        var, es, var_c, es_c = _cornish_fisher(r[:, idx] * x, c, horizon_days)
        count = r.shape[0]
    elif kind is VarMethod.FILTERED_HISTORICAL:
        scenarios = r[:, idx] * x
        pnl = scenarios.sum(axis=1)
        flt = _parse(VolatilityFilter, volatility_filter, "volatility filter")
        scale = _ewma_scale(pnl, ewma_decay) if flt is VolatilityFilter.EWMA else _garch_scale(pnl)
        var, es, var_c, es_c = _tail(scenarios * scale[:, None], alpha)
        root = math.sqrt(horizon_days)
        var, es, var_c, es_c = var * root, es * root, var_c * root, es_c * root
        count = r.shape[0]
    else:
        dist = _parse(Distribution, distribution, "distribution")
        var, es, var_c, es_c = _monte_carlo(r, idx, x, alpha, horizon_days, dist, float(dof), int(paths), int(seed))
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
