"""Deflated Sharpe ratio and probability of backtest overfitting (CSCV) on known cases."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.backtest.overfitting import (
    block_stats_from_returns,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    overfitting_report,
    probability_of_backtest_overfitting,
)
from quantdesk.core.errors import BacktestError


def _pbo(returns: np.ndarray, blocks: int = 16) -> float:
    sizes = np.diff([(len(returns) * k) // blocks for k in range(blocks + 1)])
    return probability_of_backtest_overfitting(block_stats_from_returns(returns, blocks), sizes)[0]


def test_pure_noise_strategies_have_pbo_near_one_half() -> None:
    rng = np.random.default_rng(0)
    values = [_pbo(rng.normal(0.0, 0.01, (3_200, 100))) for _ in range(4)]
    assert 0.35 < float(np.mean(values)) < 0.65


def test_a_dominant_true_signal_has_pbo_near_zero() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0, 0.01, (3_200, 100))
    returns[:, 42] += 0.004  # a Sharpe far above every noise trial in every block
    assert _pbo(returns) < 0.05


def test_pbo_uses_all_splits_when_few_and_samples_when_many() -> None:
    stats = block_stats_from_returns(np.random.default_rng(2).normal(0, 1, (160, 5)), 8)
    _, n_splits = probability_of_backtest_overfitting(stats, [20] * 8)
    assert n_splits == math.comb(8, 4)
    _, n_sampled = probability_of_backtest_overfitting(stats, [20] * 8, max_splits=10)
    assert n_sampled == 10


def test_pbo_rejects_odd_blocks_and_single_trials() -> None:
    with pytest.raises(BacktestError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((3, 5, 2)), [1] * 5)
    with pytest.raises(BacktestError, match="at least 2 trials"):
        probability_of_backtest_overfitting(np.zeros((1, 4, 2)), [1] * 4)


def test_deflated_sharpe_with_one_trial_is_the_probabilistic_sharpe_ratio() -> None:
    # Bailey & López de Prado: PSR = Phi((SR - 0) sqrt(T-1) / sqrt(1 - g3 SR + (g4-1)/4 SR^2)).
    sr, t, g3, g4 = 0.1, 250, -0.5, 5.0
    expected = NormalDist().cdf(sr * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr))
    got = deflated_sharpe_ratio(sr, n_trials=1, sharpe_variance=0.0, n_obs=t, skew=g3, kurtosis=g4)
    assert got == pytest.approx(expected, rel=1e-12)


def test_expected_max_sharpe_matches_the_paper_formula() -> None:
    # E[max SR] = sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e))).
    n, v, gamma = 100, 0.25, 0.5772156649015329
    z = NormalDist().inv_cdf
    want = math.sqrt(v) * ((1 - gamma) * z(1 - 1 / n) + gamma * z(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == pytest.approx(want, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 5_000), extra=st.integers(1, 5_000), variance=st.floats(1e-6, 0.1))
def test_more_trials_deflate_the_same_sharpe_more(n: int, extra: int, variance: float) -> None:
    kwargs = dict(sharpe_variance=variance, n_obs=1_000, skew=0.0, kurtosis=3.0)
    few = deflated_sharpe_ratio(0.1, n_trials=n, **kwargs)
    many = deflated_sharpe_ratio(0.1, n_trials=n + extra, **kwargs)
    assert many <= few + 1e-15
    assert 0.0 <= many <= 1.0


def test_report_of_a_lucky_pick_among_noise_is_not_significant() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0, 0.01, (2_000, 200))
    sharpes = returns.mean(axis=0) / returns.std(axis=0, ddof=1)
    best = int(np.argmax(sharpes))
    blocks = block_stats_from_returns(returns, 10)
    report = overfitting_report(sharpes=sharpes, selected=best, selected_returns=returns[:, best],
                                block_stats=blocks, block_sizes=[200] * 10)
    assert report.n_trials == 200
    # Undeflated, the lucky pick looks significant; deflated by 200 trials it is not.
    naive = deflated_sharpe_ratio(report.selected_sharpe, n_trials=1, sharpe_variance=0.0, n_obs=2_000,
                                  skew=report.skew, kurtosis=report.kurtosis)
    assert naive > 0.95 and report.deflated_sharpe < 0.95
    assert report.pbo is not None and report.pbo > 0.2


def _pbo_by_definition(returns: np.ndarray, blocks: int) -> float:
    """CSCV straight from the paper, on the raw returns: each split's blocks joined, Sharpe with ddof=1."""
    import itertools

    edges = [(len(returns) * k) // blocks for k in range(blocks + 1)]
    parts = [returns[edges[k]:edges[k + 1]] for k in range(blocks)]
    overfit, splits = 0, list(itertools.combinations(range(blocks), blocks // 2))
    for split in splits:
        inside = np.concatenate([parts[k] for k in split])
        outside = np.concatenate([parts[k] for k in range(blocks) if k not in split])
        best = int(np.argmax(inside.mean(axis=0) / inside.std(axis=0, ddof=1)))
        oos = outside.mean(axis=0) / outside.std(axis=0, ddof=1)
        rank = (oos < oos[best]).sum() + 0.5 * ((oos == oos[best]).sum() - 1) + 1
        omega = rank / (returns.shape[1] + 1)
        overfit += bool(np.log(omega / (1 - omega)) <= 0)
    return overfit / len(splits)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), trials=st.integers(2, 40), blocks=st.sampled_from([2, 4, 6, 8, 10]),
       signal=st.floats(0.0, 0.02), duplicates=st.integers(0, 3))
def test_pbo_equals_cscv_by_definition(seed: int, trials: int, blocks: int, signal: float, duplicates: int) -> None:
    """Every split of the kernel's count agrees with the paper's procedure on the raw returns (ties included)."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, (40 * blocks, trials))
    returns[:, 0] += signal  # one trial with an edge, strength drawn
    if duplicates:  # identical trials: equal Sharpes must rank as ties
        returns = np.concatenate([returns, returns[:, :duplicates]], axis=1)
    got, n_splits = probability_of_backtest_overfitting(
        block_stats_from_returns(returns, blocks), np.diff([(len(returns) * k) // blocks for k in range(blocks + 1)]))
    assert n_splits == math.comb(blocks, blocks // 2)
    assert got == _pbo_by_definition(returns, blocks)
