"""Drift report: real fills from a ledger against a backtest of the same window."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.core.clock import ManualClock
from quantdesk.core.costs import CostModel
from quantdesk.lake import generate_candles
from quantdesk.ledger import Ledger
from quantdesk.live.spec import RunSpec
from quantdesk.parity import drift_report
from quantdesk.parity._common import align
from quantdesk.parity._window import window_backtest
from tests.parity.parity_helpers import SYMBOL, write_history


@pytest.fixture
def candles(synthetic_candles: pl.DataFrame) -> pl.DataFrame:
    return synthetic_candles


def _spec(**overrides: object) -> RunSpec:
    values: dict[str, object] = dict(
        name="paper-sma", strategy="sma_cross", params={"fast": 5, "slow": 20}, symbols=(SYMBOL,),
        timeframe="1m", capital=10_000.0, cost=CostModel(fee_bps=10.0, slippage_bps=0.0),
    )
    values.update(overrides)
    return RunSpec(**values)  # type: ignore[arg-type]


def _write_history(ledger: Ledger, clock: ManualClock, orders: pl.DataFrame, spec: RunSpec, *,
                   slippage_bps: float, skip: frozenset[int] = frozenset()) -> None:
    write_history(ledger, clock, orders, deployment=spec.name, venue=spec.venue, fee_rate=spec.cost.fee_rate,
                  slippage_bps=slippage_bps, skip=skip)


def _ledger(tmp_path: Path) -> tuple[Ledger, ManualClock]:
    clock = ManualClock(0)
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock), clock


def test_injected_slippage_is_the_summary_figure(tmp_path: Path, candles: pl.DataFrame) -> None:
    spec = _spec()
    expected = window_backtest(spec, {SYMBOL: candles}).orders
    assert len(expected) >= 6, "the window must trade for the test to mean anything"
    ledger, clock = _ledger(tmp_path)
    _write_history(ledger, clock, expected, spec, slippage_bps=5.0)
    denied_at = expected["ts"][2]
    ledger.record_risk_event(code="NOTIONAL_EXCEEDS_MAX_PER_ORDER", detail="too big", deployment=spec.name,
                             symbol=SYMBOL, ts=denied_at)
    ledger.record_risk_event(code="OTHER_DEPLOYMENT", detail="not ours", deployment="other", ts=denied_at)

    report = drift_report(ledger, spec, candles={SYMBOL: candles})

    assert report.matched_trades == len(expected)
    assert report.missed_trades == 0 and report.extra_trades == 0
    assert report.drift_bps == pytest.approx(5.0, rel=1e-6)
    assert report.mean_slippage_bps == pytest.approx(5.0, rel=1e-6)
    assert all(t.slippage_bps == pytest.approx(5.0, rel=1e-6) for t in report.trades)
    assert [d.code for d in report.denied] == ["NOTIONAL_EXCEEDS_MAX_PER_ORDER"]
    assert report.within(6.0) and not report.within(4.0)
    # Paying 5 bps more on every trade costs money; the equity curves drift apart.
    assert report.actual_pnl < report.backtest_pnl
    assert report.equity_tracking_error_bps is not None and report.equity_tracking_error_bps > 0
    first = report.trades[0]
    assert first.signal_ts == expected["ts"][0] - timedelta(minutes=1)


def test_faithful_history_has_no_drift(tmp_path: Path, candles: pl.DataFrame) -> None:
    spec = _spec()
    expected = window_backtest(spec, {SYMBOL: candles}).orders
    ledger, clock = _ledger(tmp_path)
    _write_history(ledger, clock, expected, spec, slippage_bps=0.0)
    report = drift_report(ledger, spec, start=candles["ts"][0], end=candles["ts"][-1] + timedelta(minutes=1),
                          candles={SYMBOL: candles})
    assert report.drift_bps == pytest.approx(0.0, abs=1e-6)
    assert report.equity_tracking_error_bps == pytest.approx(0.0, abs=1e-3)
    assert report.actual_pnl == pytest.approx(report.backtest_pnl, rel=1e-6)
    assert report.actual_fees == pytest.approx(report.backtest_fees, rel=1e-6)


def test_a_missed_order_is_counted(tmp_path: Path, candles: pl.DataFrame) -> None:
    spec = _spec()
    expected = window_backtest(spec, {SYMBOL: candles}).orders
    ledger, clock = _ledger(tmp_path)
    _write_history(ledger, clock, expected, spec, slippage_bps=2.0, skip=frozenset({3}))
    report = drift_report(ledger, spec, start=candles["ts"][0], end=candles["ts"][-1] + timedelta(minutes=1),
                          candles={SYMBOL: candles})
    assert report.missed_trades >= 1
    missed = [t for t in report.trades if t.qty is None]
    assert missed[0].signal_ts == expected["ts"][3] - timedelta(minutes=1)


def test_no_history_is_an_actionable_error(tmp_path: Path, candles: pl.DataFrame) -> None:
    from quantdesk.core.errors import DataError

    ledger, _ = _ledger(tmp_path)
    with pytest.raises(DataError, match="no filled orders"):
        drift_report(ledger, _spec(), candles={SYMBOL: candles})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slippage_bps=st.floats(0.0, 50.0))
def test_uniform_slippage_is_recovered_exactly(candles: pl.DataFrame, slippage_bps: float) -> None:
    spec = _spec()
    expected = window_backtest(spec, {SYMBOL: candles}).orders
    with tempfile.TemporaryDirectory() as folder:
        ledger, clock = _ledger(Path(folder))
        _write_history(ledger, clock, expected, spec, slippage_bps=slippage_bps)
        report = drift_report(ledger, spec, candles={SYMBOL: candles})
        ledger.close()
    assert report.drift_bps == pytest.approx(slippage_bps, rel=1e-6, abs=1e-6)
    assert report.mean_slippage_bps == pytest.approx(slippage_bps, rel=1e-6, abs=1e-6)
    assert report.actual_pnl <= report.backtest_pnl + 1e-6


def test_drift_of_a_multi_asset_paper_history(tmp_path: Path) -> None:
    """Momentum rotation over three symbols: every real order is matched per symbol and side."""
    from quantdesk.live import replay

    symbols = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    frames = align({s: generate_candles(s, minutes=700, seed=5, index=i) for i, s in enumerate(symbols)})
    spec = _spec(name="paper-rotation", strategy="momentum_rotation", params={"lookback": 20}, symbols=symbols,
                 cost=CostModel(fee_bps=10.0, slippage_bps=1.0))
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    first = next(iter(frames.values()))["ts"]
    replay(RunSpec.from_deployment(spec, cost=CostModel(fee_bps=10.0, slippage_bps=4.0)), first[0],
           first[-1] + timedelta(minutes=1), frames=frames, ledger_url=url)
    with Ledger(url) as ledger:
        report = drift_report(ledger, spec, candles=frames)
    assert report.matched_trades > 10 and report.missed_trades == 0 and report.extra_trades == 0
    assert {t.symbol for t in report.trades} == set(symbols)
    assert report.drift_bps == pytest.approx(3.0, rel=1e-3)
