"""The estimators behind `book_var`, one per method (definitions in `quantdesk.risk.analytics`).

The parametric ones take the scenario matrix of position P&L (rows: days, columns: positions) and
return (VaR, ES, VaR contributions, ES contributions) in the exposures' currency; the filters
return each day's rescaling factor σ_{T+1}/σ_t; Monte Carlo returns its draws' book P&L (the
historical definitions are then applied to them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import ndtri

from quantdesk.core.errors import RiskError

__all__ = ["cornish_fisher", "ewma_scale", "garch_scale", "gaussian", "horizon_returns", "monte_carlo"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def horizon_returns(returns: np.ndarray, days: int) -> np.ndarray:
    """Overlapping `days`-day compound returns of each column."""
    if days == 1:
        return returns
    growth = np.vstack([np.ones((1, returns.shape[1])), np.cumprod(1.0 + returns, axis=0)])
    return growth[days:] / growth[:-days] - 1.0


def gaussian(scenarios: np.ndarray, confidence: float, horizon: int) -> tuple[float, float, np.ndarray, np.ndarray]:
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


def cornish_fisher(scenarios: np.ndarray, confidence: float, horizon: int
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


def ewma_scale(pnl: np.ndarray, decay: float) -> np.ndarray:
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


def garch_scale(pnl: np.ndarray) -> np.ndarray:
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


def monte_carlo(returns: np.ndarray, assets: np.ndarray, exposures: np.ndarray, horizon: int, student_t: bool,
                dof: float, paths: int, seed: int) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Return the book's P&L on each draw and a function giving chosen draws' position P&L."""
    if paths < 1:
        raise RiskError(f"monte-carlo needs at least one path, got {paths}")
    used = np.unique(assets)
    sample = returns[:, used]
    mean = sample.mean(axis=0)
    cov = np.atleast_2d(np.cov(sample, rowvar=False, ddof=1))
    root = _covariance_root(cov) * math.sqrt(horizon)
    rng = np.random.default_rng(seed)
    draws = rng.standard_normal((paths, used.size)) @ root.T
    if student_t:
        if dof <= 2:
            raise RiskError(f"a Student-t with {dof} degrees of freedom has no variance; use dof > 2 (e.g. 5)")
        draws *= np.sqrt((dof - 2.0) / rng.chisquare(dof, size=paths))[:, None]
    draws += horizon * mean
    column = np.searchsorted(used, assets)
    per_asset = np.zeros(used.size)
    np.add.at(per_asset, column, exposures)
    # the book's P&L per draw without the draws x positions matrix; positions only for the tail's rows
    return draws @ per_asset, lambda idx: draws[idx][:, column] * exposures
