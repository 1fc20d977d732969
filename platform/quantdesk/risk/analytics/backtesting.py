"""VaR backtests: Kupiec's proportion of failures, Christoffersen's independence and conditional
coverage, and the Basel traffic light (definitions as in MathWorks' `varbacktest`).

An exception is a day whose loss exceeds the VaR: P&L < −VaR. With N observations, x exceptions
and p = 1 − confidence:

- POF: LR = −2·ln[(1 − p)^(N−x)·p^x] + 2·ln[(1 − x/N)^(N−x)·(x/N)^x], χ² with 1 degree of freedom;
- independence: with N_ij the days in state j after a day in state i (1 = exception),
  π0 = N01/(N00 + N01), π1 = N11/(N10 + N11), π = (N01 + N11)/(N00 + N01 + N10 + N11),
  LR = −2·ln[(1 − π)^(N00+N10)·π^(N01+N11)] + 2·ln[(1 − π0)^N00·π0^N01·(1 − π1)^N10·π1^N11], χ²(1);
- conditional coverage: LR_POF + LR_independence, χ²(2);
- traffic light: the binomial CDF P(X ≤ x) with N and p: green ≤ 0.95, yellow ≤ 0.9999, red above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.special import xlogy
from scipy.stats import binom, chi2

from quantdesk.core.errors import RiskError
from quantdesk.risk.analytics.measures import check_confidence

__all__ = ["ChristoffersenTest", "LikelihoodRatio", "TrafficLight", "VarBacktest", "Zone", "backtest_var",
           "christoffersen", "kupiec_pof", "traffic_light"]

GREEN_UP_TO = 0.95
YELLOW_UP_TO = 0.9999


class Zone(StrEnum):
    """The Basel traffic-light zone of a VaR model's exceptions."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True, slots=True, kw_only=True)
class LikelihoodRatio:
    """A likelihood-ratio statistic and its χ² p-value (small p: reject the VaR model)."""

    statistic: float
    p_value: float
    dof: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficLight:
    """The zone and the binomial probability of at most this many exceptions."""

    zone: Zone
    cumulative_probability: float
    observations: int
    exceptions: int
    expected: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ChristoffersenTest:
    """Transition counts and the independence and conditional-coverage tests."""

    n00: int
    n01: int
    n10: int
    n11: int
    independence: LikelihoodRatio
    conditional_coverage: LikelihoodRatio


@dataclass(frozen=True, slots=True, kw_only=True)
class VarBacktest:
    """Every test of one VaR series against the realised P&L."""

    observations: int
    exceptions: int
    expected: float
    pof: LikelihoodRatio
    christoffersen: ChristoffersenTest
    traffic_light: TrafficLight


def _counts(observations: int, exceptions: int) -> tuple[int, int]:
    n, x = int(observations), int(exceptions)
    if n < 1:
        raise RiskError(f"a VaR backtest needs at least one observation, got {observations}")
    if not 0 <= x <= n:
        raise RiskError(f"exceptions must be between 0 and the {n} observations, got {exceptions}")
    return n, x


def _pof_statistic(n: int, x: int, p: float) -> float:
    rate = x / n
    null = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    alternative = xlogy(n - x, 1.0 - rate) + xlogy(x, rate)
    return float(max(-2.0 * (null - alternative), 0.0))


def kupiec_pof(observations: int, exceptions: int, confidence: float) -> LikelihoodRatio:
    """Kupiec's proportion-of-failures test: are there as many exceptions as the confidence says?"""
    p = 1.0 - check_confidence(confidence)
    n, x = _counts(observations, exceptions)
    statistic = _pof_statistic(n, x, p)
    return LikelihoodRatio(statistic=statistic, p_value=float(chi2.sf(statistic, 1)), dof=1)


def christoffersen(exception_series: Sequence[bool] | np.ndarray, confidence: float) -> ChristoffersenTest:
    """Christoffersen's tests on a day-by-day exception series: independence and conditional coverage."""
    p = 1.0 - check_confidence(confidence)
    hits = np.asarray(exception_series, dtype=bool).ravel()
    n, x = _counts(hits.size, int(hits.sum()))
    before, after = hits[:-1], hits[1:]
    n00 = int((~before & ~after).sum())
    n01 = int((~before & after).sum())
    n10 = int((before & ~after).sum())
    n11 = int((before & after).sum())
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total if total else 0.0
    null = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    alternative = xlogy(n00, 1.0 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1.0 - pi1) + xlogy(n11, pi1)
    independence = float(max(-2.0 * (null - alternative), 0.0))
    coverage = _pof_statistic(n, x, p) + independence
    return ChristoffersenTest(
        n00=n00, n01=n01, n10=n10, n11=n11,
        independence=LikelihoodRatio(statistic=independence, p_value=float(chi2.sf(independence, 1)), dof=1),
        conditional_coverage=LikelihoodRatio(statistic=coverage, p_value=float(chi2.sf(coverage, 2)), dof=2),
    )


def traffic_light(observations: int, exceptions: int, confidence: float) -> TrafficLight:
    """The Basel zone of `exceptions` in `observations` days at `confidence` (250 at 99 %: green 0-4)."""
    p = 1.0 - check_confidence(confidence)
    n, x = _counts(observations, exceptions)
    probability = float(binom.cdf(x, n, p))
    zone = Zone.GREEN if probability <= GREEN_UP_TO else Zone.YELLOW if probability <= YELLOW_UP_TO else Zone.RED
    return TrafficLight(zone=zone, cumulative_probability=probability, observations=n, exceptions=x,
                        expected=n * p)


def backtest_var(var: Sequence[float] | np.ndarray, pnl: Sequence[float] | np.ndarray,
                 confidence: float) -> VarBacktest:
    """Backtest a VaR series (positive losses) against the realised P&L of the same days."""
    v, r = np.asarray(var, dtype=float).ravel(), np.asarray(pnl, dtype=float).ravel()
    if v.size != r.size:
        raise RiskError(f"{v.size} VaR figures but {r.size} P&L figures: give one of each per day")
    if not (np.isfinite(v).all() and np.isfinite(r).all()):
        raise RiskError("the VaR or P&L series holds NaN or infinite values; backtest complete days only")
    hits = r < -v
    n, x = _counts(v.size, int(hits.sum()))
    return VarBacktest(observations=n, exceptions=x, expected=n * (1.0 - check_confidence(confidence)),
                       pof=kupiec_pof(n, x, confidence), christoffersen=christoffersen(hits, confidence),
                       traffic_light=traffic_light(n, x, confidence))
