"""VaR backtests (issue 25) against the values MathWorks publishes in its `varbacktest` documentation."""

from __future__ import annotations

import numpy as np
import pytest

from quantdesk.core.errors import RiskError
from quantdesk.risk.analytics import Zone, backtest_var, christoffersen, kupiec_pof, traffic_light


def _series(n00: int, n01: int, n10: int, n11: int) -> list[bool]:
    """A day-by-day exception series with exactly these transition counts (it starts with a quiet day)."""
    assert n01 == n10, "every run of exceptions starts and ends inside the series"
    runs = [2] * n11 + [1] * (n01 - n11)  # n11 runs of two exceptions, the rest single days
    days = [False]
    for length in runs:
        days += [True] * length + [False]
    days += [False] * (n00 + n01 + n10 + n11 + 1 - len(days))
    return days


def test_kupiec_pof_matches_the_published_values() -> None:
    pof = kupiec_pof(1043, 57, 0.95)
    assert pof.statistic == pytest.approx(0.46147, abs=5e-6) and pof.p_value == pytest.approx(0.49694, abs=5e-6)
    pof = kupiec_pof(1043, 17, 0.99)
    assert pof.statistic == pytest.approx(3.5118, abs=5e-5) and pof.p_value == pytest.approx(0.060933, abs=5e-7)


def test_christoffersen_matches_the_published_values() -> None:
    days = _series(n00=932, n01=53, n10=53, n11=4)
    assert len(days) == 1043 and sum(days) == 57
    test = christoffersen(days, 0.95)
    assert (test.n00, test.n01, test.n10, test.n11) == (932, 53, 53, 4)
    assert test.independence.statistic == pytest.approx(0.25866, abs=5e-6)
    assert test.independence.p_value == pytest.approx(0.61104, abs=5e-6)
    assert test.conditional_coverage.statistic == pytest.approx(0.72013, abs=5e-6)
    assert test.conditional_coverage.p_value == pytest.approx(0.69763, abs=5e-6)


def test_the_basel_zones_for_250_days_at_99_percent() -> None:
    zones = [traffic_light(250, x, 0.99).zone for x in range(15)]
    assert zones == [Zone.GREEN] * 5 + [Zone.YELLOW] * 5 + [Zone.RED] * 5
    assert traffic_light(250, 4, 0.99).cumulative_probability == pytest.approx(0.8922, abs=5e-5)


def test_backtest_var_counts_losses_beyond_the_var_as_exceptions() -> None:
    var = np.full(6, 10.0)
    pnl = np.array([5.0, -10.0, -10.5, 3.0, -30.0, 0.0])  # a loss equal to the VaR is not an exception
    test = backtest_var(var, pnl, 0.95)
    assert (test.observations, test.exceptions) == (6, 2)
    assert test.pof.statistic == pytest.approx(kupiec_pof(6, 2, 0.95).statistic)
    assert test.christoffersen.n01 == 2 and test.christoffersen.n11 == 0


def test_edge_counts_and_bad_input() -> None:
    assert kupiec_pof(250, 0, 0.99).statistic == pytest.approx(-2 * 250 * np.log(0.99))
    assert christoffersen([False] * 10, 0.99).independence.statistic == 0.0
    with pytest.raises(RiskError, match="between 0 and the 10 observations"):
        kupiec_pof(10, 11, 0.99)
    with pytest.raises(RiskError, match="outside"):
        traffic_light(250, 3, 0.3)
    with pytest.raises(RiskError, match="3 VaR figures but 2 P&L figures"):
        backtest_var([1, 2, 3], [1, 2], 0.99)
