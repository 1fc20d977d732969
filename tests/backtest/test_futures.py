"""Perpetual futures backtests: funding and liquidation checked against an independent calculation.

The independent side reads freqtrade's real 2021 XRP/USDT:USDT files directly (not through the
lake) and walks the bars in plain Python with the exchange's formulas written out here, so a
mistake in the engine's alignment, sign or tier lookup shows as a mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from quantdesk.backtest import LakeQuery, futures_backtest, reproduce
from quantdesk.cli import app
from quantdesk.core import CostModel
from quantdesk.core.errors import BacktestError, DataError
from quantdesk.core.margin import MarginTiers, liquidation_price, tiers_for
from quantdesk.ingest import import_file
from quantdesk.lake import Lake
from quantdesk.strategies import Strategy, param

HOUR = 3_600_000
FUTURES = "freqtrade-testdata/futures"


class Hold(Strategy):
    """Holds a constant target from the first bar (long when level > 0, short when < 0)."""

    level = param(1.0, min=-1.0, max=1.0)

    def target(self, candles: pl.DataFrame) -> pl.Series:
        return pl.Series("target", np.full(candles.height, float(self.level)))


def _read(shared: Path, name: str) -> pl.DataFrame:
    frame = pl.read_ipc(shared / FUTURES / name)
    return frame.with_columns(pl.col("date").dt.cast_time_unit("ms").dt.epoch("ms").alias("ms"))


@pytest.fixture
def futures_lake(shared_data: Path, tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    for name in ("XRP_USDT_USDT-1h-futures.feather", "XRP_USDT_USDT-1h-mark.feather",
                 "XRP_USDT_USDT-5m-futures.feather", "XRP_USDT_USDT-8h-funding_rate.feather"):
        import_file(shared_data / FUTURES / name, lake=lake, exchange="binanceusdm")
    return lake


def _run(lake: Lake, timeframe: str, level: float, leverage: float) -> object:
    return futures_backtest(Hold, LakeQuery.of("XRP/USDT:USDT", timeframe, exchange="binanceusdm"),
                            params={"level": level}, leverage=leverage, cost=CostModel(fee_bps=0),
                            lookahead_samples=0, store=False, lake=lake)


@pytest.mark.realdata
@pytest.mark.parametrize("level", [1.0, -1.0])
def test_funding_on_real_xrp_matches_an_independent_sum(futures_lake: Lake, shared_data: Path, level: float) -> None:
    trade = _read(shared_data, "XRP_USDT_USDT-1h-futures.feather")
    mark = dict(zip(*_read(shared_data, "XRP_USDT_USDT-1h-mark.feather").select("ms", "open"), strict=True))
    rates = _read(shared_data, "XRP_USDT_USDT-8h-funding_rate.feather")
    ms, opens, closes = trade["ms"].to_list(), trade["open"].to_list(), trade["close"].to_list()
    qty = level * 10_000 * 2 / opens[1]  # leverage 2, entered at bar 1's open
    paid, settled = 0.0, 0
    for stamp, rate in zip(rates["ms"], rates["open"], strict=True):
        if not ms[1] <= stamp < ms[-1] + HOUR:
            continue
        bar = ms[0] + (stamp - ms[0]) // HOUR * HOUR  # the bar whose hour holds the settlement
        price = mark.get(bar, opens[ms.index(bar)])  # the mark open; the trade open past the mark file
        paid += qty * price * rate
        settled += 1

    result = _run(futures_lake, "1h", level, 2.0)

    assert settled == result.extra["funding_settlements"] == 10
    assert result.extra["funding_paid"] == pytest.approx(paid, rel=1e-12)
    assert (paid > 0) == (level > 0)  # rates were mostly positive: longs paid, shorts received
    assert result.extra["mark_fallback_bars"] == 43  # the 1h mark file ends on 2021-11-19 09:00
    final = 10_000 + qty * (closes[-1] - opens[1]) - paid
    assert result.equity["equity"][-1] == pytest.approx(final, rel=1e-12)
    assert result.trades["funding"].sum() == pytest.approx(-paid, rel=1e-12)


def _independent_liquidation(trade: pl.DataFrame, mark: dict[int, tuple[float, float, float]],
                             rates: dict[int, float], level: float, leverage: float) -> tuple[int, float, float]:
    """Walk the bars: funding into the isolated margin, then the mark range against the liquidation price."""
    tiers = [(0, 0.0065, 0.0), (10_000, 0.01, 35.0), (50_000, 0.02, 535.0), (250_000, 0.05, 8_035.0)]
    rows = trade.select("ms", "open", "high", "low").rows()
    step = rows[1][0] - rows[0][0]
    entry = rows[1][1]
    qty = level * 10_000 * leverage / entry
    margin = abs(qty) * entry / leverage
    mmr, cum = next((r, c) for floor, r, c in reversed(tiers) if abs(qty) * entry >= floor)
    side = 1.0 if qty > 0 else -1.0
    for i, (start, open_, high, low) in enumerate(rows[1:], start=1):
        m_open, m_high, m_low = mark.get(start, (open_, high, low))
        for stamp, rate in rates.items():
            if start <= stamp < start + step:
                margin -= qty * m_open * rate
        price = (margin + cum - side * abs(qty) * entry) / (abs(qty) * mmr - side * abs(qty))
        if (qty > 0 and m_low <= price) or (qty < 0 and m_high >= price):
            fill = min(price, m_open) if qty > 0 else max(price, m_open)
            return i, fill, margin
    raise AssertionError("the position was never liquidated")


@pytest.mark.realdata
@pytest.mark.parametrize(("timeframe", "level", "leverage"), [("5m", 0.5, 20.0), ("1h", -0.5, 25.0)])
def test_liquidation_bar_and_price_on_real_xrp_match_an_independent_walk(
    futures_lake: Lake, shared_data: Path, timeframe: str, level: float, leverage: float
) -> None:
    trade = _read(shared_data, f"XRP_USDT_USDT-{timeframe}-futures.feather")
    marks = _read(shared_data, "XRP_USDT_USDT-1h-mark.feather") if timeframe == "1h" else None
    mark = {} if marks is None else {r[0]: r[1:] for r in marks.select("ms", "open", "high", "low").rows()}
    rates = dict(zip(*_read(shared_data, "XRP_USDT_USDT-8h-funding_rate.feather").select("ms", "open"), strict=True))
    bar, price, margin_lost = _independent_liquidation(trade, mark, rates, level, leverage)

    result = _run(futures_lake, timeframe, level, leverage)

    (liq,) = result.extra["liquidations"]
    assert liq["ts"] == trade["date"][bar].isoformat()
    assert liq["price"] == pytest.approx(price, rel=1e-12)
    assert liq["margin_lost"] == pytest.approx(margin_lost, rel=1e-9)
    # isolated margin: half the equity was posted, so half (plus funding) survives the liquidation
    assert result.equity["equity"][-1] == pytest.approx(10_000 - margin_lost, rel=1e-9)
    assert result.trades["status"].to_list() == ["liquidated"]
    assert result.positions[f"position_{'XRP/USDT:USDT'}"][-1] == 0.0


def test_binance_maintenance_amounts_follow_from_the_brackets() -> None:
    btc = tiers_for("BTC/USDT:USDT")
    # Binance's published maintenance amounts for BTCUSDT's first four brackets
    assert btc.amounts[:4] == (0.0, 50.0, 1_300.0, 46_300.0)
    assert btc.max_leverage(10_000) == 125.0
    assert tiers_for("XRP/USDT:USDT").tier(60_000) == (0.02, 535.0)
    with pytest.raises(Exception, match="start at notional 0"):
        MarginTiers.from_brackets([[100, 0.01]])


@settings(max_examples=200, deadline=None)
@given(qty=st.floats(0.01, 1e6) | st.floats(-1e6, -0.01), entry=st.floats(0.01, 1e5),
       leverage=st.floats(1.0, 125.0))
def test_margin_left_at_the_liquidation_price_is_the_maintenance_margin(qty: float, entry: float, leverage: float) -> None:
    tiers = tiers_for("BTC/USDT:USDT")
    margin = abs(qty) * entry / leverage
    price = liquidation_price(qty, entry, margin, tiers)
    mmr, cum = tiers.tier(abs(qty) * entry)
    if price > 0:
        left = margin + qty * (price - entry)
        assert left == pytest.approx(abs(qty) * price * mmr - cum, rel=1e-6, abs=1e-6 * margin)
    else:  # only a long whose margin covers (almost) all of its notional is never liquidated
        assert qty > 0 and leverage < 1.0 / (1.0 - mmr) + 1e-9


class Flips(Strategy):
    """Alternates long/short/flat on a fixed cycle (causal: uses only the bar index)."""

    period = param(7, min=1, max=50)

    def target(self, candles: pl.DataFrame) -> pl.Series:
        phase = (np.arange(candles.height) // self.period) % 3
        return pl.Series("target", np.choose(phase, [1.0, -1.0, 0.0]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), leverage=st.sampled_from([1.0, 3.0, 10.0, 50.0]), period=st.integers(1, 20),
       rate=st.floats(-0.003, 0.003))
def test_wallet_is_cash_in_plus_realised_minus_fees_plus_funding(
    make_candles: Callable[..., pl.DataFrame], seed: int, leverage: float, period: int, rate: float
) -> None:
    candles = make_candles(300, seed=seed)
    funding = candles.filter(pl.int_range(pl.len()) % 8 == 3).select("ts", pl.lit(rate).alias("rate"))
    # one flat tier (125x at any size): this test is about the wallet's accounting, not the tier cap
    result = futures_backtest(Flips, candles, params={"period": period}, leverage=leverage,
                              cost=CostModel(fee_bps=4, slippage_bps=1), funding=funding,
                              lookahead_samples=0, store=False, tiers=MarginTiers.from_brackets([(0, 0.004)]))
    orders, eq = result.orders, result.equity
    signed = np.where(orders["side"].to_numpy() == "buy", 1.0, -1.0) * orders["qty"].to_numpy()
    value, fees, bars = -signed * orders["price"].to_numpy(), orders["fees"].to_numpy(), orders["bar"].to_numpy()
    position = result.positions["position_asset"].to_numpy()
    flat = np.flatnonzero(position == 0)
    assert len(flat) > 0
    cash, equity, funding = eq["cash"].to_numpy(), eq["equity"].to_numpy(), eq["funding"].to_numpy()
    for i in flat:
        # with every position closed by bar i, the signed fill values sum to the realised PnL;
        # fees (liquidations' clearance fees included) and funding move the wallet too
        done = bars <= i
        expected = 10_000 + value[done].sum() - fees[done].sum() + funding[: i + 1].sum()
        assert cash[i] == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert equity[i] == cash[i]
    if leverage == 1.0:  # an unlevered long is never liquidated (a short can be: its loss is unbounded)
        assert all(liq["qty"] < 0 for liq in result.extra["liquidations"])
    held = position != 0
    assert (eq["margin"].to_numpy()[held] > 0).all() and (eq["margin"].to_numpy()[~held] == 0).all()


def test_bad_leverage_and_bad_funding_are_refused_with_the_fix(make_candles: Callable[..., pl.DataFrame],
                                                               tmp_path: Path) -> None:
    candles = make_candles(50)
    for bad in (0.5, 200.0):
        with pytest.raises(BacktestError, match="leverage must be between 1 and 125"):
            futures_backtest(Hold, candles, leverage=bad, store=False)
    lake = Lake(tmp_path / "lake")
    good = pl.DataFrame({"ts": [1_637_193_600_017], "rate": [0.0001]})
    lake.funding.write(good, exchange="binanceusdm", symbol="XRP/USDT:USDT")
    percent = pl.DataFrame({"ts": [1_637_222_400_000, 1_637_251_200_000], "rate": [0.01, 12.5]})
    with pytest.raises(DataError, match=r"divide percentages by 100\. Nothing was written"):
        lake.funding.write(percent, exchange="binanceusdm", symbol="XRP/USDT:USDT")
    assert lake.funding.read("XRP/USDT:USDT", exchange="binanceusdm")["rate"].to_list() == [0.0001]


@pytest.mark.realdata
def test_funding_files_import_into_the_funding_table(shared_data: Path, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    feather = import_file(shared_data / FUTURES / "XRP_USDT_USDT-8h-funding_rate.feather", lake=lake,
                          exchange="binanceusdm")
    assert (feather.rows, feather.inserted, feather.timeframe) == (91, 91, "8h")
    assert "59 stamped after the hour" in feather.notes[0]  # the jitter is kept, not rounded away
    stored = lake.funding.read("XRP/USDT:USDT", exchange="binanceusdm")
    assert stored["ts"][0].isoformat() == "2021-11-18T00:00:00.017000+00:00"
    assert (stored["rate"] < 0).sum() == 4 and stored["rate"].min() == pytest.approx(-0.00219334, abs=1e-9)
    assert lake.series() == []  # nothing went into the candle lake
    again = import_file(shared_data / FUTURES / "XRP_USDT_USDT-8h-funding_rate.json", lake=lake, exchange="binanceusdm")
    assert again.inserted == 0 and again.unchanged + again.updated == 91


@pytest.mark.realdata
def test_cli_futures_backtest_is_stored_and_reproduces(shared_data: Path, quantdesk_home: Path) -> None:
    runner = CliRunner()
    for name in ("XRP_USDT_USDT-1h-futures.feather", "XRP_USDT_USDT-1h-mark.feather",
                 "XRP_USDT_USDT-8h-funding_rate.feather"):
        out = runner.invoke(app, ["import", str(shared_data / FUTURES / name), "--exchange", "binanceusdm"])
        assert out.exit_code == 0, out.output
    args = ["backtest", "sma_cross", "--symbol", "XRP/USDT:USDT", "--exchange", "binanceusdm", "--timeframe", "1h",
            "--param", "fast=5", "--param", "slow=20", "--market", "futures", "--leverage", "3"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    fx = payload["futures"]
    assert (fx["market"], fx["leverage"], fx["funding_settlements"]) == ("futures", 3.0, 10)
    assert fx["funding_paid"] > 0 and "futures_inputs" not in fx
    again = reproduce(payload["run_id"])
    assert again.matches, again.differences
    human = runner.invoke(app, args)
    assert "futures 3x isolated: funding paid" in human.output
    wrong = runner.invoke(app, [*args[:-4], "--leverage", "3"])
    assert wrong.exit_code != 0 and "add --market futures" in wrong.output


@pytest.mark.realdata
def test_futures_sweep_ranks_what_single_futures_backtests_give(futures_lake: Lake, quantdesk_home: Path) -> None:
    from quantdesk.backtest import sweep

    query = LakeQuery.of("XRP/USDT:USDT", "5m", exchange="binanceusdm")
    result = sweep("sma_cross", query, grid={"fast": [3, 5, 8], "slow": [20, 40]}, market="futures", leverage=10,
                   lake=futures_lake, store=True)
    assert result.engine == "futures" and result.n_combinations == 6 and result.sweep_id
    best = result.results.row(0, named=True)
    single = futures_backtest("sma_cross", query, params={"fast": best["fast"], "slow": best["slow"]}, leverage=10,
                              lake=futures_lake, lookahead_samples=0, store=False)
    assert best["sharpe"] == pytest.approx(single.metrics.sharpe, rel=1e-12)
    assert best["total_return"] == pytest.approx(single.metrics.total_return, rel=1e-12)
    spot = sweep("sma_cross", query, grid={"fast": [3, 5, 8], "slow": [20, 40]}, lake=futures_lake, store=False)
    assert not spot.results.equals(result.results)  # leverage, shorts and funding change the ranking's numbers


@pytest.mark.realdata
def test_a_futures_walk_forward_trades_each_test_window_with_the_futures_engine(futures_lake: Lake,
                                                                              quantdesk_home: Path) -> None:
    from quantdesk.backtest.walkforward import walk_forward
    from quantdesk.promotion.evidence import collect_evidence

    query = LakeQuery.of("XRP/USDT:USDT", "1h", exchange="binanceusdm")
    kw = dict(grid=["fast=5", "slow=20"], train="2d", test="1d", lake=futures_lake, cost=CostModel(fee_bps=4))
    walked = walk_forward("sma_cross", query, market="futures", leverage=5, **kw)
    spot = walk_forward("sma_cross", query, **kw)
    frame = futures_lake.candles("XRP/USDT:USDT", "1h", exchange="binanceusdm")
    cash = 10_000.0
    for row in walked.windows.iter_rows(named=True):  # one combination: each window is that backtest
        test = frame.filter((pl.col("ts") >= row["test_start"]) & (pl.col("ts") <= row["test_end"]))
        alone = futures_backtest("sma_cross", test, params={"fast": 5, "slow": 20}, leverage=5, initial_cash=cash,
                                 cost=CostModel(fee_bps=4), funding=futures_lake.funding.read(
                                     "XRP/USDT:USDT", exchange="binanceusdm"),
                                 mark=futures_lake.candles("XRP/USDT:USDT@mark", "1h", exchange="binanceusdm"),
                                 timeframe="1h", lookahead_samples=0, store=False)
        assert row["test_total_return"] == pytest.approx(alone.metrics.total_return, rel=1e-12)
        cash = float(alone.equity["equity"][-1])
    assert walked.metrics["final_equity"] == pytest.approx(cash, rel=1e-12)
    assert walked.metrics["final_equity"] != spot.metrics["final_equity"]

    # promotion evidence only counts a walk-forward of the market the run trades
    run = futures_backtest("sma_cross", query, params={"fast": 5, "slow": 20}, leverage=5, lake=futures_lake,
                           lookahead_samples=0)
    evidence = collect_evidence(run.run_id)
    assert (evidence.market, evidence.leverage) == ("futures", 5.0)
    assert evidence.walkforward_run_id == walked.run_id and evidence.oos_sharpe == walked.metrics["sharpe"]
    refused = collect_evidence(run.run_id, walkforward_run_id=spot.run_id)
    assert refused.oos_sharpe is None and "trades spot, this run trades futures" in refused.walkforward_detail


def test_leverage_above_the_tier_cap_for_the_position_is_refused_with_the_cap(
        make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(50)
    # 10,000 USDT at 50x is a 500,000 notional: the altcoin table's 5 % tier, 10x at most
    with pytest.raises(BacktestError, match=r"leverage 50x is above the exchange's 10x cap for a [\d,]+ notional"):
        futures_backtest(Hold, candles, leverage=50, store=False, lookahead_samples=0)
    # 10x is inside that cap: the same run goes through
    assert futures_backtest(Hold, candles, leverage=10, store=False, lookahead_samples=0).orders.height >= 1
