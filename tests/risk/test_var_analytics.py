"""VaR and ES (issue 25): each method against an independent computation from its written definition,
the closed forms, Cornish-Fisher reducing to Gaussian, contributions adding up, and the invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from quantdesk.core.errors import RiskError
from quantdesk.risk.analytics import VarMethod, book_var, value_at_risk

RNG = np.random.default_rng(20250)
RETURNS = RNG.standard_t(4, size=1200) * 0.02 + 0.0004  # fixed data: fat-tailed daily returns
ASSETS = np.column_stack([RETURNS, RNG.standard_t(5, size=1200) * 0.03, RNG.normal(0, 0.01, 1200)])
EXPOSURES = np.array([25_000.0, -10_000.0, 40_000.0])


def _standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std(ddof=1)


def test_historical_is_numpys_quantile_and_the_mean_of_the_tail() -> None:
    q = np.quantile(RETURNS, 0.01)
    result = value_at_risk(RETURNS, 0.99, "historical")
    assert result.var == pytest.approx(-q, rel=1e-12)
    assert result.es == pytest.approx(-RETURNS[np.less_equal(RETURNS, q)].mean(), rel=1e-12)
    assert result.observations == RETURNS.size


def test_gaussian_is_the_closed_form_with_the_sample_standard_deviation() -> None:
    mu, sigma, z = RETURNS.mean(), RETURNS.std(ddof=1), stats.norm.ppf(0.975)
    result = value_at_risk(RETURNS, 0.975, "gaussian")
    assert result.var == pytest.approx(z * sigma - mu, rel=1e-12)
    assert result.es == pytest.approx(sigma * stats.norm.pdf(z) / 0.025 - mu, rel=1e-12)


@pytest.mark.parametrize(("confidence", "ratio"), [(0.95, 2.0627), (0.99, 2.6652)])
def test_the_gaussian_es_of_a_standard_normal_is_the_published_multiple_of_sigma(confidence: float, ratio: float) -> None:
    x = _standardised(RNG.normal(size=5000))  # mean 0, sample standard deviation 1, exactly
    assert value_at_risk(x, confidence, "gaussian").es == pytest.approx(ratio, abs=5e-5)


@pytest.mark.parametrize("confidence", [0.95, 0.99])  # at 99 % this data's modified ES falls below h: the floor
def test_cornish_fisher_is_performanceanalytics_modified_var_and_es(confidence: float) -> None:
    r, alpha = RETURNS, 1 - confidence
    d = r - r.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    s, k, z = m3 / m2**1.5, m4 / m2**2 - 3, stats.norm.ppf(alpha)
    h = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    sigma = r.std(ddof=1)
    e = -stats.norm.pdf(h) * (1 + h**3 * s / 6 + (h**6 - 9 * h**4 + 9 * h**2 + 3) * s**2 / 72
                              + (h**4 - 2 * h**2 - 1) * k / 24) / alpha
    result = value_at_risk(r, confidence, "cornish-fisher")
    assert result.var == pytest.approx(-r.mean() - h * sigma, rel=1e-12)
    assert result.es == pytest.approx(-r.mean() - sigma * min(e, h), rel=1e-12)
    assert (h <= e) == (confidence == 0.99) and result.es >= result.var


def test_cornish_fisher_with_zero_skew_and_kurtosis_is_the_gaussian() -> None:
    # ±3.1493 ten per cent of the time, ±1 otherwise: symmetric (skew 0) with m4/m2² = 3 (excess 0)
    a = math.sqrt((0.54 + math.sqrt(0.54**2 + 4 * 0.07 * 1.53)) / 0.14)
    x = np.concatenate([np.full(50, a), np.full(50, -a), np.full(450, 1.0), np.full(450, -1.0)]) * 0.01 + 0.001
    d = x - x.mean()
    assert abs((d**3).mean()) < 1e-18 and (d**4).mean() / (d**2).mean() ** 2 - 3 == pytest.approx(0, abs=1e-9)
    for c in (0.95, 0.99):
        cf, g = value_at_risk(x, c, "cornish-fisher"), value_at_risk(x, c, "gaussian")
        assert cf.var == pytest.approx(g.var, rel=1e-9) and cf.es == pytest.approx(g.es, rel=1e-9)


def test_filtered_historical_ewma_rescales_each_day_by_tomorrows_volatility() -> None:
    r, lam = RETURNS, 0.94
    var = np.empty(r.size + 1)
    var[0] = (r**2).mean()
    for t in range(r.size):
        var[t + 1] = lam * var[t] + (1 - lam) * r[t] ** 2
    scenarios = r / np.sqrt(var[:-1]) * np.sqrt(var[-1])
    q = np.quantile(scenarios, 0.01)
    result = value_at_risk(r, 0.99, "filtered-historical", volatility_filter="ewma")
    assert result.var == pytest.approx(-q, rel=1e-10)
    assert result.es == pytest.approx(-scenarios[scenarios <= q].mean(), rel=1e-10)
    ten = value_at_risk(r, 0.99, "filtered-historical", horizon_days=10)
    assert ten.var == pytest.approx(math.sqrt(10) * result.var, rel=1e-12)


def test_filtered_historical_garch_uses_archs_fitted_volatility() -> None:
    from arch import arch_model

    # a GARCH(1,1) series (volatility clusters), so the filter has something to find
    shocks, r, variance = np.random.default_rng(8).standard_normal(1500), np.empty(1500), 4e-4
    for t in range(r.size):
        r[t] = math.sqrt(variance) * shocks[t]
        variance = 4e-5 + 0.1 * r[t] ** 2 + 0.8 * variance
    scaled = r / r.std() * 10
    fit = arch_model(scaled, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    tomorrow = math.sqrt(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
    scenarios = r * tomorrow / np.asarray(fit.conditional_volatility)
    assert fit.params["alpha[1]"] > 0.05, "the fit found the clustering"
    result = value_at_risk(r, 0.99, "filtered-historical", volatility_filter="garch")
    assert result.var == pytest.approx(-np.quantile(scenarios, 0.01), rel=1e-6)
    assert result.var != pytest.approx(value_at_risk(r, 0.99, "historical").var, rel=1e-3)


def test_monte_carlo_is_seeded_and_converges_to_the_closed_forms() -> None:
    x = _standardised(RNG.normal(size=4000))
    a = value_at_risk(x, 0.99, "monte-carlo", paths=400_000, seed=7)
    b = value_at_risk(x, 0.99, "monte-carlo", paths=400_000, seed=7)
    assert (a.var, a.es) == (b.var, b.es), "the same seed gives the same figures"
    assert a.var == pytest.approx(stats.norm.ppf(0.99), rel=0.01) and a.es == pytest.approx(2.6652, rel=0.01)
    nu, c = 5.0, 0.99
    q = stats.t.ppf(c, nu)
    scale = math.sqrt((nu - 2) / nu)  # a Student-t scaled to unit variance, like the draws
    es_t = scale * (nu + q**2) / (nu - 1) * stats.t.pdf(q, nu) / (1 - c)
    t = value_at_risk(x, c, "monte-carlo", distribution="t", dof=nu, paths=400_000, seed=3)
    assert t.var == pytest.approx(scale * q, rel=0.015) and t.es == pytest.approx(es_t, rel=0.02)


def test_ten_days_use_overlapping_returns_for_historical_and_the_square_root_of_time_for_gaussian() -> None:
    growth = np.cumprod(1 + RETURNS)
    ten = np.concatenate([[growth[9] - 1], growth[10:] / growth[:-10] - 1])
    result = value_at_risk(RETURNS, 0.99, "historical", horizon_days=10)
    assert result.observations == RETURNS.size - 9
    assert result.var == pytest.approx(-np.quantile(ten, 0.01), rel=1e-10)
    g1, g10 = value_at_risk(RETURNS, 0.99, "gaussian"), value_at_risk(RETURNS, 0.99, "gaussian", horizon_days=10)
    mu, sigma = RETURNS.mean(), RETURNS.std(ddof=1)
    assert g10.var == pytest.approx(stats.norm.ppf(0.99) * sigma * math.sqrt(10) - 10 * mu, rel=1e-12)
    assert g1.var < g10.var


def test_book_historical_is_the_quantile_of_the_positions_pnl() -> None:
    pnl = ASSETS @ EXPOSURES
    result = book_var(ASSETS, EXPOSURES, confidence=0.99, method="historical")
    assert result.var_quote == pytest.approx(-np.quantile(pnl, 0.01), rel=1e-12)
    assert result.gross_quote == np.abs(EXPOSURES).sum()
    assert result.var == pytest.approx(result.var_quote / 75_000.0, rel=1e-12)


@pytest.mark.parametrize("method", [m.value for m in VarMethod])
@pytest.mark.parametrize("horizon", [1, 10])
def test_contributions_add_up_to_the_total(method: str, horizon: int) -> None:
    # two positions on the same asset (columns repeat) and a short one
    result = book_var(ASSETS, [*EXPOSURES, 5_000.0], [0, 1, 2, 0], confidence=0.99, method=method,
                      horizon_days=horizon, paths=50_000)
    assert sum(result.var_contributions) == pytest.approx(result.var_quote, rel=1e-9, abs=1e-9)
    assert sum(result.es_contributions) == pytest.approx(result.es_quote, rel=1e-9, abs=1e-9)


def test_historical_es_contributions_are_the_tail_means_and_gaussian_ones_are_x_sigma_x() -> None:
    pnl = ASSETS @ EXPOSURES
    tail = pnl <= np.quantile(pnl, 0.01)
    result = book_var(ASSETS, EXPOSURES, method="historical")
    assert np.allclose(result.es_contributions, -(ASSETS[tail] * EXPOSURES).mean(axis=0), rtol=1e-12)
    cov, mu = np.cov(ASSETS, rowvar=False, ddof=1), ASSETS.mean(axis=0)
    sigma = math.sqrt(EXPOSURES @ cov @ EXPOSURES)
    z = stats.norm.ppf(0.99)
    expected = EXPOSURES * (cov @ EXPOSURES) / sigma * z - EXPOSURES * mu
    assert np.allclose(book_var(ASSETS, EXPOSURES, method="gaussian").var_contributions, expected, rtol=1e-10)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_cornish_fisher_contributions_are_the_euler_gradient(confidence: float) -> None:
    base = book_var(ASSETS, EXPOSURES, confidence=confidence, method="cornish-fisher")
    for i in range(EXPOSURES.size):
        step = 1e-4 * abs(EXPOSURES[i])
        up, down = EXPOSURES.copy(), EXPOSURES.copy()
        up[i] += step
        down[i] -= step
        for attr, contributions in (("var_quote", base.var_contributions), ("es_quote", base.es_contributions)):
            slope = (getattr(book_var(ASSETS, up, confidence=confidence, method="cornish-fisher"), attr)
                     - getattr(book_var(ASSETS, down, confidence=confidence, method="cornish-fisher"), attr)) / (2 * step)
            assert contributions[i] == pytest.approx(EXPOSURES[i] * slope, rel=1e-5, abs=1e-6)


SAMPLE = st.lists(st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False), min_size=120, max_size=300)
MONOTONE = ["historical", "gaussian", "filtered-historical", "monte-carlo"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns=SAMPLE, low=st.floats(0.9, 0.97), gap=st.floats(0.001, 0.02), method=st.sampled_from(MONOTONE))
def test_var_is_monotone_in_the_confidence(returns: list[float], low: float, gap: float, method: str) -> None:
    r = np.asarray(returns)
    if r.std() < 1e-9:
        return
    a = value_at_risk(r, low, method, paths=2_000)
    b = value_at_risk(r, min(low + gap, 0.99), method, paths=2_000)
    assert b.var >= a.var - 1e-12


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns=SAMPLE, confidence=st.floats(0.9, 0.99), method=st.sampled_from([m.value for m in VarMethod
                                                                               if m is not VarMethod.FILTERED_HISTORICAL]))
def test_es_is_at_least_the_var(returns: list[float], confidence: float, method: str) -> None:
    r = np.asarray(returns)
    if r.std() < 1e-9:
        return
    result = value_at_risk(r, confidence, method, paths=2_000)
    assert result.es >= result.var - 1e-12


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.floats(0.01, 1000.0), method=st.sampled_from([m.value for m in VarMethod]))
def test_scaling_the_positions_by_k_scales_var_and_es_by_k(k: float, method: str) -> None:
    opts = {"confidence": 0.99, "method": method, "paths": 5_000, "volatility_filter": "ewma"}
    a = book_var(ASSETS[:400], EXPOSURES, **opts)
    b = book_var(ASSETS[:400], EXPOSURES * k, **opts)
    assert b.var_quote == pytest.approx(k * a.var_quote, rel=1e-9)
    assert b.es_quote == pytest.approx(k * a.es_quote, rel=1e-9)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"confidence": 0.5}, "confidence 0.5 is outside (0.5, 1)"),
    ({"confidence": 1.0}, "confidence 1.0 is outside (0.5, 1)"),
    ({"confidence": 1.2}, "give a level such as 0.99"),
    ({"method": "parametric"}, "unknown method 'parametric'; use one of: historical, gaussian"),
    ({"horizon_days": 5}, "horizon 5d is not supported; use 1d or 10d"),
])
def test_bad_input_is_one_line_naming_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RiskError) as e:
        value_at_risk(RETURNS, **{"confidence": 0.99, **kwargs})  # type: ignore[arg-type]
    assert message in str(e.value) and "\n" not in str(e.value)


def test_too_few_observations_for_the_confidence_are_refused() -> None:
    with pytest.raises(RiskError, match=r"0\.99 VaR needs 100 daily observations .*got 99: lengthen the window"):
        value_at_risk(RETURNS[:99], 0.99)
    assert value_at_risk(RETURNS[:100], 0.99).observations == 100
    with pytest.raises(RiskError, match="needs 100 overlapping 10-day returns"):
        value_at_risk(RETURNS[:105], 0.99, horizon_days=10)
    with pytest.raises(RiskError, match="NaN or infinite"):
        value_at_risk(np.append(RETURNS, np.nan), 0.99)
