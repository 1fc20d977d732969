"""Overfitting statistics reported with every sweep.

- Deflated Sharpe ratio (Bailey & López de Prado, 2014): the probability that the
  selected strategy's true Sharpe ratio is above zero after accounting for how many
  trials were run, how much their Sharpe ratios varied, and the skew and kurtosis of
  the selected returns.
- Probability of backtest overfitting by combinatorially symmetric cross-validation
  (CSCV; Bailey, Borwein, López de Prado & Zhu, 2015): split the bars into S even
  blocks, and for every choice of S/2 blocks as in-sample pick the best trial there;
  PBO is the share of splits where that trial ranks at or below the median out of sample.

Sharpe ratios here are per bar (not annualised), as in the papers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from quantdesk.core.errors import BacktestError

__all__ = [
    "OverfittingReport",
    "block_stats_from_returns",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "overfitting_report",
    "probability_of_backtest_overfitting",
]

_EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()  # stdlib: scipy.stats would add seconds to every sweep's import


def _moments(r: np.ndarray) -> tuple[float, float]:
    """Return the (biased) skewness and plain kurtosis of `r`, as scipy.stats' defaults."""
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    if m2 == 0:
        return 0.0, 3.0
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2


@dataclass(frozen=True, slots=True, kw_only=True)
class OverfittingReport:
    """Overfitting statistics of one sweep (Sharpe ratios per bar, not annualised)."""

    n_trials: int
    selected_sharpe: float
    sharpe_variance: float
    expected_max_sharpe: float
    skew: float
    kurtosis: float
    n_obs: int
    deflated_sharpe: float
    pbo: float | None
    n_splits: int
    n_blocks: int


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Return the expected maximum Sharpe ratio of `n_trials` unskilled trials (the DSR benchmark)."""
    if n_trials < 1:
        raise BacktestError(f"n_trials must be >= 1, got {n_trials}")
    if n_trials == 1 or sharpe_variance <= 0:
        return 0.0
    z1 = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * ((1.0 - _EULER_GAMMA) * z1 + _EULER_GAMMA * z2)


def deflated_sharpe_ratio(
    sharpe: float,
    *,
    n_trials: int,
    sharpe_variance: float,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Return the deflated Sharpe ratio: P(true Sharpe > expected max of `n_trials` null trials).

    `sharpe` is per bar; `kurtosis` is the plain (not excess) kurtosis, 3 for normal returns.
    """
    if n_obs < 2:
        raise BacktestError(f"the deflated Sharpe ratio needs at least 2 returns, got {n_obs}")
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    denom = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if not denom > 0:
        return float("nan")
    z = (sharpe - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom)
    return _NORMAL.cdf(z)


def block_stats_from_returns(returns: np.ndarray, n_blocks: int) -> np.ndarray:
    """Return (trials, n_blocks, 2) sums of returns and squared returns per even block of bars.

    `returns` is (bars, trials). The sweep kernels produce the same array in their one pass.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise BacktestError(f"returns must be a (bars, trials) matrix, got shape {r.shape}")
    edges = [(r.shape[0] * k) // n_blocks for k in range(n_blocks + 1)]
    out = np.empty((r.shape[1], n_blocks, 2))
    for k in range(n_blocks):
        part = r[edges[k] : edges[k + 1]]
        out[:, k, 0] = part.sum(axis=0)
        out[:, k, 1] = (part * part).sum(axis=0)
    return out


def probability_of_backtest_overfitting(
    block_stats: np.ndarray,
    block_sizes: np.ndarray | list[int],
    *,
    max_splits: int | None = None,
    seed: int = 0,
) -> tuple[float, int]:
    """Return (PBO, number of splits) by CSCV from per-block return sums of every trial.

    `block_stats` is (trials, S, 2) as from `block_stats_from_returns` or a sweep kernel;
    `block_sizes` the bars in each block. All C(S, S/2) splits are used when there are at
    most `max_splits` of them, else a seeded random sample of that many. By default
    `max_splits` keeps splits x trials near 2e7 (at least 1,000 splits), so PBO of a
    10,000-trial sweep takes a fraction of a second (one numba pass: `kernel_cscv`).
    """
    bs = np.asarray(block_stats, dtype=np.float64)
    sizes = np.asarray(block_sizes, dtype=np.float64)
    n_trials, n_blocks, _ = bs.shape
    if n_trials < 2:
        raise BacktestError(f"PBO needs at least 2 trials, got {n_trials}; widen the grid")
    if n_blocks < 2 or n_blocks % 2:
        raise BacktestError(f"CSCV needs an even number of blocks >= 2, got {n_blocks}")
    half = n_blocks // 2
    if max_splits is None:
        max_splits = max(1_000, 20_000_000 // n_trials)
    all_splits = math.comb(n_blocks, half)
    if all_splits <= max_splits:
        splits = list(itertools.combinations(range(n_blocks), half))
    else:
        rng = np.random.default_rng(seed)
        splits = [tuple(sorted(rng.choice(n_blocks, half, replace=False))) for _ in range(max_splits)]
    from quantdesk.backtest.kernel_cscv import cscv_overfit_splits  # numba: imported when PBO runs

    below = cscv_overfit_splits(np.ascontiguousarray(bs), sizes, np.array(splits, dtype=np.int64).reshape(len(splits), half))
    return below / len(splits), len(splits)


def overfitting_report(
    *,
    sharpes: np.ndarray,
    selected: int,
    selected_returns: np.ndarray,
    block_stats: np.ndarray | None,
    block_sizes: np.ndarray | list[int] | None,
) -> OverfittingReport:
    """Build the report for a sweep: per-bar trial Sharpes, the chosen trial and its returns."""
    sr = np.asarray(sharpes, dtype=np.float64)
    sr = sr[np.isfinite(sr)]
    r = np.asarray(selected_returns, dtype=np.float64)
    n_obs = int(r.size)
    std = r.std(ddof=1) if n_obs > 1 else 0.0
    selected_sharpe = float(r.mean() / std) if std > 0 else 0.0
    skew, kurt = _moments(r) if std > 0 else (0.0, 3.0)
    variance = float(sr.var(ddof=1)) if sr.size > 1 else 0.0
    n_trials = max(int(sr.size), 1)
    pbo, n_splits, n_blocks = None, 0, 0
    if block_stats is not None and block_sizes is not None and block_stats.shape[0] >= 2:
        pbo, n_splits = probability_of_backtest_overfitting(block_stats, block_sizes)
        n_blocks = int(block_stats.shape[1])
    return OverfittingReport(
        n_trials=n_trials,
        selected_sharpe=selected_sharpe,
        sharpe_variance=variance,
        expected_max_sharpe=expected_max_sharpe(n_trials, variance),
        skew=skew,
        kurtosis=kurt,
        n_obs=n_obs,
        deflated_sharpe=deflated_sharpe_ratio(
            selected_sharpe, n_trials=n_trials, sharpe_variance=variance, n_obs=max(n_obs, 2), skew=skew, kurtosis=kurt
        ),
        pbo=pbo,
        n_splits=n_splits,
        n_blocks=n_blocks,
    )
