"""Execution semantics of the vectorbt engine: next-open fills, costs, lot steps, shorts, multi-asset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.backtest import backtest
from quantdesk.backtest.engine import order_sizes
from quantdesk.core import BacktestError, CostModel, MarketRules, StrategyError
from quantdesk.strategies import Strategy, param


class Scripted(Strategy):
    """Replays a fixed target path (the test sets `path` on the class)."""

    path: list[float] = []
    offset = param(0, min=0, max=10)

    def target(self, candles: pl.DataFrame) -> pl.Series:
        return pl.Series("target", self.path[: len(candles)], dtype=pl.Float64)


def _scripted(path: list[float]) -> type[Scripted]:
    return type("ScriptedPath", (Scripted,), {"path": path, "__module__": __name__})


def test_fills_use_the_next_bars_open_adjusted_by_slippage(candles: pl.DataFrame) -> None:
    cost = CostModel(fee_bps=10, slippage_bps=7)
    result = backtest("sma_cross", candles, params={"fast": 5, "slow": 20}, cost=cost, store=False)
    orders = result.orders
    assert len(orders) > 10
    opens = candles["open"].to_numpy()
    target = result.positions["target_asset"].to_numpy()
    for bar, side, price, qty, fee in orders.select("bar", "side", "price", "qty", "fees").iter_rows():
        sign = 1 if side == "buy" else -1
        assert bar >= 1, "no order may fill on the first bar: nothing was decided before it"
        assert price == pytest.approx(opens[bar] * (1 + sign * 7e-4), rel=1e-12)
        # The order executes the decision of the previous bar's close, which changed the target.
        assert target[bar - 1] != (target[bar - 2] if bar >= 2 else 0.0)
        assert fee == pytest.approx(qty * price * 1e-3, rel=1e-9)
    assert result.metrics.fees_paid == pytest.approx(float(orders["fees"].sum()))
    assert result.metrics.trades == len(result.trades.filter(pl.col("status") == "closed"))
    # Equity is marked at the close: cash + position * close.
    pos = result.positions["position_asset"].to_numpy()
    eq = result.equity
    np.testing.assert_allclose(eq["equity"], eq["cash"] + pos * candles["close"].to_numpy(), rtol=1e-9)


def test_last_bars_target_is_never_traded(make_candles: Callable[..., pl.DataFrame]) -> None:
    n = 50
    candles = make_candles(n, seed=1)
    result = backtest(_scripted([0.0] * (n - 1) + [1.0]), candles, store=False, lookahead_samples=0)
    assert result.orders.is_empty()
    assert result.metrics.total_return == 0.0 and result.metrics.exposure == 0.0


def test_always_long_buys_once_at_the_second_open_and_stays_open(make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(60, seed=2)
    result = backtest(_scripted([1.0] * 60), candles, cost=CostModel(fee_bps=0), initial_cash=1000.0, store=False)
    assert result.orders["bar"].to_list() == [1]
    qty = result.orders["qty"][0]
    assert qty == pytest.approx(1000.0 / candles["open"][1])
    assert result.metrics.trades == 0 and result.metrics.open_trades == 1
    open_trade = result.trades.row(0, named=True)
    assert open_trade["status"] == "open" and open_trade["exit_ts"] is None
    assert result.metrics.final_equity == pytest.approx(qty * candles["close"][-1])
    assert result.metrics.exposure == pytest.approx(59 / 60)


def test_flip_closes_one_trade_and_opens_another_only_when_shorts_are_allowed(make_candles: Callable[..., pl.DataFrame]) -> None:
    path = [0.0] * 5 + [1.0] * 10 + [-1.0] * 10 + [0.0] * 5
    candles = make_candles(len(path), seed=3)
    both = backtest(_scripted(path), candles, allow_short=True, store=False)
    assert both.trades["side"].to_list() == ["long", "short"]
    assert both.trades["status"].to_list() == ["closed", "closed"]
    assert both.trades["entry_ts"][1] == both.trades["exit_ts"][0] == candles["ts"][16]
    assert both.metrics.trades == 2
    assert (both.positions["position_asset"].to_numpy()[16:25] < 0).all()
    long_only = backtest(_scripted(path), candles, allow_short=False, store=False)
    assert long_only.trades["side"].to_list() == ["long"]
    assert (long_only.positions["position_asset"].to_numpy() >= 0).all()
    assert long_only.positions["target_asset"].min() == 0.0


def test_lot_step_and_min_qty_from_market_rules(candles: pl.DataFrame) -> None:
    stepped = backtest("sma_cross", candles, params={"fast": 5, "slow": 20},
                       rules=MarketRules(lot_step=0.5), store=False)
    qty = stepped.orders["qty"].to_numpy()
    assert len(qty) > 0
    np.testing.assert_allclose(qty / 0.5, np.round(qty / 0.5), atol=1e-9)
    # 10_000 cash buys about 100 units; a 1_000-unit minimum rejects every order.
    none = backtest("sma_cross", candles, params={"fast": 5, "slow": 20},
                    rules=MarketRules(min_qty=1_000.0), store=False)
    assert none.orders.is_empty() and none.metrics.final_equity == 10_000.0


def test_multi_asset_rotation_shares_one_cash_pool(make_candles: Callable[..., pl.DataFrame]) -> None:
    frames = {s: make_candles(300, seed=10 + i, start_price=p) for i, (s, p) in
              enumerate({"AAA/USDT": 100.0, "BBB/USDT": 5.0, "CCC/USDT": 2000.0}.items())}
    result = backtest("momentum_rotation", frames, params={"lookback": 20, "top": 2}, store=False)
    assert set(result.orders["symbol"].unique()) == set(frames)
    closes = np.column_stack([frames[s]["close"].to_numpy() for s in frames])
    positions = np.column_stack([result.positions[f"position_{s}"].to_numpy() for s in frames])
    gross = np.abs(positions * closes).sum(axis=1) / result.equity["equity"].to_numpy()
    assert gross.max() <= 1.0 + 1e-6
    assert result.metrics.fees_paid == pytest.approx(float(result.orders["fees"].sum()))
    assert result.equity.height == 300


def test_order_sizes_place_orders_only_when_the_target_changes() -> None:
    size = order_sizes(np.array([[0.0], [1.0], [1.0], [0.5], [0.5], [0.0]]))
    assert np.isnan(size[0, 0]) and size[1, 0] == 0.0 and size[2, 0] == 1.0
    assert np.isnan(size[3, 0]) and size[4, 0] == 0.5 and np.isnan(size[5, 0])
    rebalanced = order_sizes(np.array([[1.0], [1.0], [1.0]]), rebalance=True)
    assert rebalanced[1:, 0].tolist() == [1.0, 1.0]


def test_bad_inputs_raise_typed_errors(candles: pl.DataFrame) -> None:
    with pytest.raises(StrategyError, match="fast < slow"):
        backtest("sma_cross", candles, params={"fast": 30, "slow": 10}, store=False)
    with pytest.raises(BacktestError, match="initial cash"):
        backtest("sma_cross", candles, initial_cash=0.0, store=False)
    with pytest.raises(StrategyError, match="outside"):
        backtest(_scripted([2.0] * len(candles)), candles, store=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=3, max_size=60),
    seed=st.integers(0, 1000),
    slippage_bps=st.sampled_from([0.0, 3.0, 25.0]),
    allow_short=st.booleans(),
)
def test_any_target_path_fills_at_the_next_open(path: list[float], seed: int, slippage_bps: float,
                                                allow_short: bool, make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(len(path), seed=seed)
    result = backtest(_scripted(path), candles, cost=CostModel(fee_bps=10, slippage_bps=slippage_bps),
                      allow_short=allow_short, store=False, lookahead_samples=0)
    opens = candles["open"].to_numpy()
    target = result.positions["target_asset"].to_numpy()
    for bar, side, price in result.orders.select("bar", "side", "price").iter_rows():
        sign = 1 if side == "buy" else -1
        assert 1 <= bar < len(path)
        assert price == pytest.approx(opens[bar] * (1 + sign * slippage_bps / 1e4), rel=1e-12)
        assert target[bar - 1] != (target[bar - 2] if bar >= 2 else None)
    position = result.positions["position_asset"].to_numpy()
    assert position[0] == 0.0
    if not allow_short:
        assert (position >= 0).all()
    eq = result.equity
    np.testing.assert_allclose(eq["equity"], eq["cash"] + position * candles["close"].to_numpy(), rtol=1e-9)
