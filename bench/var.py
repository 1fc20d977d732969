"""Benchmark the desk's VaR/ES: 50 assets x 5 years of daily returns, all five methods, beside the peers.

Ours: `quantdesk.risk.analytics.book_var` on the T x 50 return matrix and a 50-position book
(revaluation, VaR, ES and every position's contribution), each method timed on its own. Peers, in
the same run on the same data: riskfolio-lib's `VaR_Hist`/`CVaR_Hist` and quantstats'
`value_at_risk` (parametric: quantstats has no historical VaR) and `conditional_value_at_risk(
method="historical")`, each given the book's return series (P&L over gross exposure: they take one
series, so the revaluation is not in their time; ours is timed on that series too, `value_at_risk`).
Every call is timed with `time.perf_counter` after one warm-up call; the median and the fastest of
`--repeat` calls are printed (Monte Carlo and GARCH: a third as many). Targets: the five methods
under 1 s together, Monte Carlo with 100k paths under 2 s.

Run: .venv/bin/python bench/var.py [--assets 50] [--years 5] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _data(assets: int, days: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Fat-tailed daily returns with a clustering market factor (seeded), and a long/short book on them."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, size=days) / np.sqrt(2.0)  # unit variance
    market, variance = np.empty(days), 0.025**2
    for t in range(days):  # a GARCH(1,1) market factor: volatility clusters, as crypto's does
        market[t] = np.sqrt(variance) * shocks[t]
        variance = 0.025**2 * 0.05 + 0.10 * market[t] ** 2 + 0.85 * variance
    beta = rng.uniform(0.6, 1.4, size=assets)
    idio = rng.standard_t(4, size=(days, assets)) * rng.uniform(0.01, 0.04, size=assets)
    returns = market[:, None] * beta + idio
    exposures = rng.uniform(5_000, 50_000, size=assets) * np.where(rng.random(assets) < 0.2, -1.0, 1.0)
    return returns, exposures


def _time(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    call()  # warm-up: imports, caches
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return {"median_ms": round(1000 * statistics.median(samples), 3), "min_ms": round(1000 * min(samples), 3),
            "calls": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    from quantdesk.risk.analytics import book_var, value_at_risk

    returns, exposures = _data(args.assets, 365 * args.years + 1)
    slow = max(args.repeat // 3, 1)
    ours: dict[str, dict[str, Any]] = {}
    for method, repeat, options in (
        ("historical", args.repeat, {}), ("gaussian", args.repeat, {}), ("cornish-fisher", args.repeat, {}),
        ("filtered-historical", args.repeat, {"volatility_filter": "ewma"}),
        ("monte-carlo", slow, {"paths": 100_000}),
    ):
        result = book_var(returns, exposures, confidence=0.99, method=method, **options)
        ours[method] = {**_time(lambda m=method, o=options: book_var(returns, exposures, confidence=0.99, method=m, **o),
                                repeat), "var_quote": round(result.var_quote, 2), "es_quote": round(result.es_quote, 2)}
    garch = book_var(returns, exposures, method="filtered-historical", volatility_filter="garch")
    ours["filtered-historical-garch"] = {
        **_time(lambda: book_var(returns, exposures, method="filtered-historical", volatility_filter="garch"), slow),
        "var_quote": round(garch.var_quote, 2), "es_quote": round(garch.es_quote, 2)}
    ten = book_var(returns, exposures, method="historical", horizon_days=10)
    ours["historical-10d"] = {**_time(lambda: book_var(returns, exposures, method="historical", horizon_days=10),
                                      args.repeat), "var_quote": round(ten.var_quote, 2)}
    five = ["historical", "gaussian", "cornish-fisher", "filtered-historical", "monte-carlo"]
    total_ms = sum(ours[m]["median_ms"] for m in five)

    import pandas as pd
    import quantstats.stats as qs
    from riskfolio.src.RiskFunctions import CVaR_Hist, VaR_Hist

    gross = float(np.abs(exposures).sum())
    series = returns @ exposures / gross  # the book's return series: what the single-series peers take
    column = series.reshape(-1, 1)
    frame = pd.Series(series)
    mine = value_at_risk(series, 0.99, "historical")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the peers' own deprecation chatter is not what is measured
        peers = {
            "quantdesk.value_at_risk(historical, one series)": {
                **_time(lambda: value_at_risk(series, 0.99, "historical"), args.repeat),
                "var": round(mine.var, 6), "es": round(mine.es, 6)},
            "riskfolio.VaR_Hist": {**_time(lambda: VaR_Hist(column, alpha=0.01), args.repeat),
                                   "var": round(float(VaR_Hist(column, alpha=0.01)), 6)},
            "riskfolio.CVaR_Hist": {**_time(lambda: CVaR_Hist(column, alpha=0.01), args.repeat),
                                    "es": round(float(CVaR_Hist(column, alpha=0.01)), 6)},
            "quantstats.value_at_risk (parametric)": {
                **_time(lambda: qs.value_at_risk(frame, confidence=0.99, prepare_returns=False), args.repeat),
                "var": round(-float(qs.value_at_risk(frame, confidence=0.99, prepare_returns=False)), 6)},
            "quantstats.conditional_value_at_risk(historical)": {
                **_time(lambda: qs.conditional_value_at_risk(frame, confidence=0.99, prepare_returns=False,
                                                             method="historical"), args.repeat),
                "es": round(-float(qs.conditional_value_at_risk(frame, confidence=0.99, prepare_returns=False,
                                                                method="historical")), 6)},
        }
    print(json.dumps({
        "bench": "desk_var", "assets": args.assets, "days": returns.shape[0], "confidence": 0.99,
        "ours_book": ours, "five_methods_total_ms": round(total_ms, 3), "target_total_ms": 1000,
        "meets_total_target": total_ms < 1000, "monte_carlo_100k_ms": ours["monte-carlo"]["median_ms"],
        "target_monte_carlo_ms": 2000, "meets_monte_carlo_target": ours["monte-carlo"]["median_ms"] < 2000,
        "peers_on_the_book_series": peers,
        "how_timed": "time.perf_counter around each call after one warm-up call, median and fastest of the calls; "
                     "ours on the 50-asset matrix (revaluation, VaR, ES, contributions), the peers and our "
                     "single-series value_at_risk on the book's return series, same process, same data",
    }, indent=2))


if __name__ == "__main__":
    main()
