"""Risk analytics: VaR and expected shortfall, their Euler contributions, VaR backtests, stress tests.

Pure numpy/scipy (and `arch` for the GARCH filter) over returns and positions; the layer above
(`quantdesk.book`) reads positions from the ledger and returns from the lake and calls these.
A risk number nobody can reproduce is worth nothing, so here is exactly what is computed.

Conventions
-----------
`confidence` c is in (0.5, 1); the tail probability is α = 1 − c. `returns` are simple returns
(P_t / P_{t−1} − 1). VaR and ES are reported as POSITIVE losses: for one return series as
fractions of the position's value, for a book in the quote currency (`var_quote`, `es_quote`) and
as fractions of the book's gross exposure Σ|x_i| (`var`, `es`; for a long-only book: of its value).
A book is a vector of positions x_i (signed quote exposure: quantity × price), each on an asset
whose return series is a column of the scenario matrix R (T days × n assets); a position's P&L in
scenario t is x_i · R[t, asset(i)], the book's p_t is their sum. At least ⌈1/α⌉ observations are
required (fewer leave no observation in the tail): 100 at 99 %, 20 at 95 %.

Methods (`VarMethod`)
---------------------
- `historical`: VaR = −`numpy.quantile(p, α)` (numpy's default "linear" method: with h = (T − 1)α,
  j = ⌊h⌋, g = h − j, the quantile is (1 − g)·p_(j) + g·p_(j+1) of the sorted P&L);
  ES = −mean of the p_t at or below that quantile.
- `gaussian`: μ = mean(p), σ = sample standard deviation (ddof = 1), z = Φ⁻¹(c):
  VaR = z·σ − μ, ES = σ·φ(z)/(1 − c) − μ (ES/σ = 2.0627 at 95 %, 2.6652 at 99 % for N(0, 1)).
- `cornish-fisher`: PerformanceAnalytics' modified VaR (Favre and Galeano 2002; Boudt, Peterson and
  Croux 2008). With the population central moments m_k = mean((p − μ)^k), skew S = m3/m2^1.5 and
  excess kurtosis K = m4/m2² − 3, and z = Φ⁻¹(α) (negative),
  h = z + (z² − 1)S/6 + (z³ − 3z)K/24 − (2z³ − 5z)S²/36, VaR = −μ − h·σ, and the modified ES
  E = −φ(h)·(1 + h³S/6 + (h⁶ − 9h⁴ + 9h² + 3)S²/72 + (h⁴ − 2h² − 1)K/24)/α,
  ES = −μ − σ·min(E, h) (PerformanceAnalytics' `operES.CornishFisher`: never below the VaR).
  σ is the sample standard deviation (ddof = 1), as in `gaussian`, so S = K = 0 gives the Gaussian
  VaR and ES exactly; PerformanceAnalytics scales by √m2 instead (multiply σ by √((T − 1)/T) to
  get its figure).
- `filtered-historical`: volatility-filtered historical simulation (Barone-Adesi, Hull and White)
  on the book's P&L: a conditional volatility σ_t is filtered, the standardised residuals
  ε_t = p_t/σ_t are rescaled by tomorrow's forecast σ_{T+1} (scenario t becomes p_t·σ_{T+1}/σ_t,
  each position's P&L scaled by the same factor) and VaR and ES are taken as in `historical`.
  Filters: `ewma` (RiskMetrics, λ = 0.94): σ²_1 = mean(p²), σ²_{t+1} = λσ²_t + (1 − λ)p²_t;
  `garch`: GARCH(1,1) with zero mean and normal innovations fitted by `arch` (maximum
  likelihood, on p scaled to standard deviation 10), σ_t its conditional volatility and σ_{T+1}
  its one-step forecast.
- `monte-carlo`: `paths` draws (default 100,000) of the assets' returns from a multivariate normal
  with the sample mean vector and covariance (ddof = 1), or a multivariate Student-t with `dof`
  degrees of freedom scaled to the same covariance (Z·√((ν − 2)/W), W ~ χ²_ν), from
  `numpy.random.default_rng(seed)` (seed 0 by default: reruns are identical); the book is revalued
  on each draw and VaR and ES are taken as in `historical`.

Horizons: `horizon_days` = 1 or 10. `historical` uses overlapping H-day compound returns
(∏(1 + r) − 1 over H consecutive days, T − H + 1 of them); `gaussian` and `cornish-fisher` scale
σ by √H and μ by H (square-root of time on i.i.d. days); `filtered-historical` multiplies the
one-day VaR and ES by √H (the volatility forecast held flat); `monte-carlo` draws H-day returns
with mean H·μ and covariance H·Σ.

Contributions (Euler allocation, adding up to the total): historical VaR: each position's P&L in
the quantile's scenarios, (1 − g)·P_(j),i + g·P_(j+1),i, negated; historical (and filtered, and
Monte Carlo) ES: the mean of each position's P&L over the tail scenarios, negated; Gaussian:
z·cov(P_i, p)/σ − μ_i = x_i(Σx)_i/σ·z − x_i·μ_i (and φ(z)/(1 − c) in place of z for ES);
Cornish-Fisher: x_i·∂VaR/∂x_i with the analytic gradients of μ, σ, S and K.

Backtests (`kupiec_pof`, `christoffersen`, `traffic_light`): an exception is a day whose loss
exceeds the VaR (P&L < −VaR). Kupiec's proportion of failures, Christoffersen's independence and
conditional coverage (= POF + independence, χ² with 2 degrees of freedom) likelihood ratios,
and the Basel traffic light from the binomial CDF of the exceptions: green ≤ 0.95, yellow
≤ 0.9999, red above. Stress tests: `stress.apply_scenario` (liquidation prices from
`quantdesk.core.margin`, as the futures backtest).
"""

from quantdesk.risk.analytics.backtesting import (
    ChristoffersenTest,
    LikelihoodRatio,
    TrafficLight,
    VarBacktest,
    Zone,
    backtest_var,
    christoffersen,
    kupiec_pof,
    traffic_light,
)
from quantdesk.risk.analytics.measures import (
    MIN_OBSERVATIONS_NOTE,
    Distribution,
    VarMethod,
    VarResult,
    VolatilityFilter,
    book_var,
    minimum_observations,
    rolling_var,
    value_at_risk,
)
from quantdesk.risk.analytics.stress import (
    PositionOutcome,
    ShockPath,
    StressPosition,
    StressResult,
    apply_scenario,
)

__all__ = [
    "MIN_OBSERVATIONS_NOTE",
    "ChristoffersenTest",
    "Distribution",
    "LikelihoodRatio",
    "PositionOutcome",
    "ShockPath",
    "StressPosition",
    "StressResult",
    "TrafficLight",
    "VarBacktest",
    "VarMethod",
    "VarResult",
    "VolatilityFilter",
    "Zone",
    "apply_scenario",
    "backtest_var",
    "book_var",
    "christoffersen",
    "kupiec_pof",
    "minimum_observations",
    "rolling_var",
    "traffic_light",
    "value_at_risk",
]
