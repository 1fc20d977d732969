"""Metrics agree with empyrical on the same returns and the same annualisation."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantdesk.backtest.metrics import (
    annualization,
    bar_returns,
    compute_metrics,
    drawdown_duration,
    max_drawdown,
)

HOUR_MS = 3_600_000
returns_arrays = arrays(
    np.float64,
    st.integers(2, 300),
    elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
)


def _metrics_for(returns: np.ndarray, initial_cash: float = 1000.0):
    equity = initial_cash * np.cumprod(1.0 + returns)
    return compute_metrics(
        equity=equity,
        initial_cash=initial_cash,
        timeframe_ms=HOUR_MS,
        position=np.ones(len(returns)),
        trade_pnl=np.array([]),
        open_trades=0,
        fees_paid=0.0,
        traded_notional=0.0,
    ), equity


def test_annualization_is_365_days_of_bars() -> None:
    assert annualization(HOUR_MS) == 365 * 24
    assert annualization(60_000) == 525_600


@settings(max_examples=60, deadline=None)
@given(returns_arrays)
def test_metrics_match_empyrical(returns: np.ndarray) -> None:
    ann = annualization(HOUR_MS)
    m, equity = _metrics_for(returns)
    r = bar_returns(equity, 1000.0)
    np.testing.assert_allclose(r, returns, rtol=1e-9, atol=1e-12)
    if np.std(r, ddof=1) > 1e-12:
        assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, annualization=ann), rel=1e-6, abs=1e-9)
    assert m.volatility == pytest.approx(empyrical.annual_volatility(r, annualization=ann), rel=1e-6, abs=1e-12)
    assert m.max_drawdown == pytest.approx(empyrical.max_drawdown(r), rel=1e-6, abs=1e-12)
    if math.isfinite(m.cagr) and m.cagr < 1e100:
        assert m.cagr == pytest.approx(empyrical.annual_return(r, annualization=ann), rel=1e-6, abs=1e-12)
    if (r < 0).any():
        assert m.sortino == pytest.approx(empyrical.sortino_ratio(r, annualization=ann), rel=1e-6, abs=1e-9)
    assert m.total_return == pytest.approx(equity[-1] / 1000.0 - 1.0)
    assert m.max_drawdown <= 0.0
    assert 0 <= m.max_drawdown_duration_bars <= len(r)


def test_flat_equity_has_zero_sharpe_and_no_calmar() -> None:
    m, _ = _metrics_for(np.zeros(10))
    assert m.sharpe == 0.0 and m.sortino == 0.0 and m.max_drawdown == 0.0
    assert math.isnan(m.calmar)
    assert m.to_json()["calmar"] is None


def test_only_gains_give_infinite_sortino_written_as_null() -> None:
    m, _ = _metrics_for(np.full(5, 0.01))
    assert m.sortino == math.inf
    assert m.to_json()["sortino"] is None


@pytest.mark.parametrize(
    ("equity", "bars"),
    [
        ([100, 90, 95, 101, 99, 98], 3),  # peak at start (100), recovered at 101 three bars later
        ([110, 120, 130], 0),  # never under water
        ([90, 80], 2),  # never recovers: to the last bar
        ([100, 100, 100], 0),
        ([120, 100, 130, 125, 126, 127, 128], 4),  # second drawdown (130 -> end, 4 bars) is longer
    ],
)
def test_drawdown_duration_cases(equity: list[float], bars: int) -> None:
    assert drawdown_duration(np.array(equity, dtype=float), 100.0) == bars


def test_max_drawdown_counts_initial_cash_as_first_peak() -> None:
    assert max_drawdown(np.array([90.0, 99.0]), 100.0) == pytest.approx(-0.1)


def test_trade_statistics() -> None:
    m = compute_metrics(
        equity=np.array([1000.0, 1010.0, 1005.0, 1020.0]),
        initial_cash=1000.0,
        timeframe_ms=HOUR_MS,
        position=np.array([0.0, 1.0, 0.0, -2.0]),
        trade_pnl=np.array([10.0, -5.0, 15.0]),
        open_trades=1,
        fees_paid=3.0,
        traded_notional=4000.0,
    )
    assert m.trades == 3 and m.open_trades == 1
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(25 / 5)
    assert m.avg_trade == pytest.approx(20 / 3)
    assert m.exposure == pytest.approx(0.5)
    assert m.turnover == pytest.approx(4.0)
    assert m.fees_paid == 3.0
    none = compute_metrics(equity=np.array([1000.0, 1000.0]), initial_cash=1000.0, timeframe_ms=HOUR_MS,
                           position=np.zeros(2), trade_pnl=np.array([]), open_trades=0, fees_paid=0.0,
                           traded_notional=0.0)
    assert none.trades == 0 and math.isnan(none.win_rate) and math.isnan(none.profit_factor)
    only_wins = compute_metrics(equity=np.array([1000.0, 1010.0]), initial_cash=1000.0, timeframe_ms=HOUR_MS,
                                position=np.zeros(2), trade_pnl=np.array([10.0]), open_trades=0,
                                fees_paid=0.0, traded_notional=0.0)
    assert only_wins.profit_factor == math.inf
