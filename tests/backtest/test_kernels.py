"""The fused sweep kernels equal vectorbt's from_orders (final equity, trades) and metrics.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.backtest.kernel_orders import BOTH, LONG_ONLY, target_percent_order
from quantdesk.backtest.kernels import ma_cross_equity, ma_cross_sweep
from quantdesk.backtest.sweep_fast import fast_path_for
from quantdesk.core import CostModel, MarketRules
from quantdesk.strategies import load_strategy


def _vectorbt(frame: pl.DataFrame, target: np.ndarray, *, fee: float, slippage: float, both: bool,
              lot_step: float = 0.0, min_qty: float = 0.0):
    """Run vectorbt directly (not through our engine): target at t traded at t+1's open."""
    import pandas as pd
    import vectorbt as vbt

    size = np.full(len(target), np.nan)
    size[1:] = target[:-1]
    unchanged = np.concatenate(([False, False], target[1:-1] == target[:-2]))
    size[unchanged] = np.nan
    kwargs = {}
    if lot_step:
        kwargs["size_granularity"] = lot_step
    if min_qty:
        kwargs["min_size"] = min_qty
    return vbt.Portfolio.from_orders(
        close=pd.Series(frame["close"].to_numpy()), size=size, size_type="targetpercent",
        price=frame["open"].to_numpy(), fees=fee, slippage=slippage, init_cash=10_000.0,
        direction="both" if both else "longonly", freq="1min", **kwargs,
    )


def _check_against_vectorbt(frame: pl.DataFrame, name: str, combos: list[dict], *, allow_short: bool,
                            cost: CostModel, rules: MarketRules = MarketRules()) -> int:
    cls = load_strategy(name)
    fast = fast_path_for(cls, {"x": frame})
    assert fast is not None
    metrics, _ = fast.run(combos, cost=cost, rules=rules, initial_cash=10_000.0, allow_short=allow_short,
                          rebalance=False, timeframe_ms=60_000, n_blocks=4)
    total_trades = 0
    for i, combo in enumerate(combos):
        target = cls(**combo).target(frame).to_numpy()
        if not allow_short:
            target = np.clip(target, 0.0, 1.0)
        pf = _vectorbt(frame, target, fee=cost.fee_rate, slippage=cost.slippage_rate, both=allow_short,
                       lot_step=rules.lot_step, min_qty=rules.min_qty)
        final = float(pf.value().to_numpy()[-1])
        assert metrics["final_equity"][i] == pytest.approx(final, rel=1e-9, abs=0), combo
        assert metrics["trades"][i] == int(pf.positions.closed.count()), combo
        assert metrics["fees_paid"][i] == pytest.approx(float(pf.orders.fees.sum()), rel=1e-9, abs=1e-12)
        total_trades += int(metrics["trades"][i])
    return total_trades


def test_sma_cross_kernel_equals_vectorbt_on_synthetic_data(make_candles) -> None:
    frame = make_candles(3_000, seed=3, minutes=1)
    combos = [{"fast": f, "slow": s} for f, s in [(2, 5), (5, 20), (10, 30), (20, 60), (7, 50)]]
    trades = _check_against_vectorbt(frame, "sma_cross", combos, allow_short=False,
                                     cost=CostModel(fee_bps=10, slippage_bps=3))
    assert trades > 100  # the comparison exercised many round trips


def test_ema_cross_kernel_with_shorts_and_lot_step_equals_vectorbt(make_candles) -> None:
    frame = make_candles(2_000, seed=5, minutes=1)
    combos = [{"fast": f, "slow": s, "short": sh} for f, s in [(3, 10), (8, 40)] for sh in (True, False)]
    _check_against_vectorbt(frame, "ema_cross", combos, allow_short=True, cost=CostModel(fee_bps=7.5))
    _check_against_vectorbt(frame, "sma_cross", [{"fast": 4, "slow": 16}], allow_short=False,
                            cost=CostModel(fee_bps=10), rules=MarketRules(lot_step=0.01, min_qty=0.02))


def _freqtrade(shared: Path, name: str) -> pl.DataFrame:
    frame = pl.read_ipc(shared / "freqtrade-testdata" / name)
    return frame.rename({"date": "ts"}).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@pytest.mark.realdata
def test_kernels_equal_vectorbt_on_real_binance_candles(shared_data: Path) -> None:
    # Real 2018 candles have flat stretches where fast == slow exactly: a hard case for signals.
    for name in ("ETH_BTC-5m.feather", "UNITTEST_BTC-1m.feather"):
        frame = _freqtrade(shared_data, name)
        combos = [{"fast": f, "slow": s} for f, s in [(3, 12), (10, 40), (25, 100)]]
        trades = _check_against_vectorbt(frame, "sma_cross", combos, allow_short=False,
                                         cost=CostModel(fee_bps=10))
        assert trades > 10
        _check_against_vectorbt(frame, "ema_cross", [{"fast": 6, "slow": 26, "short": True}],
                                allow_short=True, cost=CostModel(fee_bps=10, slippage_bps=5))


def test_every_metric_equals_the_engine_and_metrics_py(make_candles) -> None:
    from quantdesk.backtest import backtest

    frame = make_candles(1_500, seed=11, minutes=60)
    cls = load_strategy("sma_cross")
    fast = fast_path_for(cls, {"x": frame})
    combos = [{"fast": 3, "slow": 9}, {"fast": 12, "slow": 48}]
    cost = CostModel(fee_bps=10, slippage_bps=2)
    metrics, _ = fast.run(combos, cost=cost, rules=MarketRules(), initial_cash=10_000.0, allow_short=False,
                          rebalance=False, timeframe_ms=3_600_000, n_blocks=4)
    for i, combo in enumerate(combos):
        expected = backtest(cls, frame, params=combo, cost=cost, store=False, lookahead_samples=0).metrics.as_dict()
        for key, value in metrics.items():
            want = expected[key]
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(value[i]), key
            else:
                assert value[i] == pytest.approx(want, rel=1e-9, abs=1e-12), key


def test_equity_path_matches_sweep_final_equity(make_candles) -> None:
    frame = make_candles(800, seed=2)
    close = frame["close"]
    ma = np.vstack([close.rolling_mean(w).to_numpy() for w in (5, 20)])
    metrics, blocks = ma_cross_sweep(frame["open"].to_numpy(), close.to_numpy(), ma, np.array([0]), np.array([1]),
                                     np.zeros(1, dtype=np.int64), np.ones(1), np.zeros(1), fee=0.001, n_blocks=4)
    equity, _ = ma_cross_equity(frame["open"].to_numpy(), close.to_numpy(), ma[0], ma[1], start=0, fee=0.001)
    assert equity[-1] == metrics["final_equity"][0]
    r = np.diff(np.concatenate(([10_000.0], equity))) / np.concatenate(([10_000.0], equity[:-1]))
    # Block sums of returns add up to the whole run's sum.
    assert blocks[0, :, 0].sum() == pytest.approx(r.sum(), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    cash=st.floats(0.0, 1e6), pos=st.floats(-50.0, 50.0), target=st.floats(-1.0, 1.0),
    price=st.floats(0.01, 1e5), fee=st.sampled_from([0.0, 0.001, 0.01]),
    slippage=st.sampled_from([0.0, 0.0005]), granularity=st.sampled_from([np.nan, 0.001, 1.0]),
    both=st.booleans(),
)
def test_order_port_equals_vectorbt_execute_order(cash, pos, target, price, fee, slippage, granularity, both) -> None:
    from vectorbt.portfolio.enums import Direction, ProcessOrderState, SizeType
    from vectorbt.portfolio.nb import execute_order_nb, order_nb

    if not both:
        pos, target = abs(pos), abs(target)
    debt = abs(pos) * price if pos < 0 else 0.0
    free = cash - 2 * debt if pos < 0 else cash
    value = cash + pos * price
    if pos < 0 and value <= 0:
        return
    direction = BOTH if both else LONG_ONLY
    state = ProcessOrderState(cash=cash, position=pos, debt=debt, free_cash=free, val_price=price,
                              value=value if pos != 0 else cash, oidx=0, lidx=0)
    order = order_nb(size=target, price=price, size_type=SizeType.TargetPercent,
                     direction=Direction.Both if both else Direction.LongOnly, fees=fee, slippage=slippage,
                     size_granularity=granularity)
    expected, result = execute_order_nb(state, order)
    got = target_percent_order(cash, pos, debt, free, target, price, direction, fee, slippage, 0.0, granularity)
    assert got[0] == (result.status == 0)
    assert (got[1], got[2], got[3], got[4]) == (expected.cash, expected.position, expected.debt, expected.free_cash)
    if got[0]:
        assert (got[5], got[6], got[7]) == (result.size, result.price, result.fees)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.floats(1e-12, 1e7), target=st.sampled_from([1.0, 0.5, 1e-9, 0.999999, 0.0]),
    price=st.floats(1e-6, 1e6), fee=st.sampled_from([0.0, 0.001, 0.0075]),
    slippage=st.sampled_from([0.0, 0.0005]), min_size=st.sampled_from([0.0, 1e-8, 0.01, 1.0]),
    buy=st.booleans(), both=st.booleans(),
)
def test_order_short_paths_equal_vectorbt(amount, target, price, fee, slippage, min_size, buy, both) -> None:
    """Buying from all cash and selling a whole long take a short path: still vectorbt to the bit."""
    from vectorbt.portfolio.enums import Direction, ProcessOrderState, SizeType
    from vectorbt.portfolio.nb import execute_order_nb, order_nb

    cash, pos = (amount, 0.0) if buy else (0.0, amount)
    if not buy:
        target = 0.0
    value = cash + pos * price
    state = ProcessOrderState(cash=cash, position=pos, debt=0.0, free_cash=cash, val_price=price,
                              value=value if pos != 0 else cash, oidx=0, lidx=0)
    order = order_nb(size=target, price=price, size_type=SizeType.TargetPercent,
                     direction=Direction.Both if both else Direction.LongOnly, fees=fee, slippage=slippage,
                     min_size=min_size)
    expected, result = execute_order_nb(state, order)
    got = target_percent_order(cash, pos, 0.0, cash, target, price, BOTH if both else LONG_ONLY, fee, slippage,
                               min_size, np.nan)
    assert got[0] == (result.status == 0)
    assert (got[1], got[2], got[3], got[4]) == (expected.cash, expected.position, expected.debt, expected.free_cash)
    if got[0]:
        assert (got[5], got[6], got[7]) == (result.size, result.price, result.fees)
