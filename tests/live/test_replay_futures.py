"""A futures deployment replayed through runner, gate, paper perpetual and ledger equals its backtest.

Real 2021 XRP/USDT:USDT candles, mark prices and funding rates (../shared/data). The backtest is
`futures_backtest` (the numba kernel); the replay is the live path (`Runner.execute` sizing on a
`FuturesBook`, `GatedBroker`, `PaperBroker` on isolated margin, scratch ledger). They must agree
fill for fill, on the funding paid, on the liquidation, and on equity bar by bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from quantdesk.backtest import futures_backtest
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import ConfigError
from quantdesk.live import RunSpec
from quantdesk.live.replay_futures import replay_futures
from quantdesk.strategies import Strategy, param
from tests.xrp_futures import FUTURES, futures_frame, xrp_1h

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

SYMBOL = "XRP/USDT:USDT"


class Swing(Strategy):
    """Long above the slow mean, short below it (a target every bar: a perpetual's both sides)."""

    slow = param(12, min=2)
    level = param(0.5, min=0.0, max=1.0)

    @property
    def warmup(self) -> int:
        return self.slow

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"].to_numpy()
        mean = candles["close"].rolling_mean(self.slow).to_numpy()  # NaN in the warm-up: flat
        return pl.Series("t", np.where(close > mean, self.level, np.where(close < mean, -self.level, 0.0)))


@pytest.fixture
def xrp(shared_data: Path) -> dict[str, pl.DataFrame]:
    return xrp_1h(shared_data)


def _spec(leverage: int, level: float) -> RunSpec:
    return RunSpec(name="perp", strategy=f"{__file__}:Swing", params={"slow": 12, "level": level},
                   symbols=(SYMBOL,), timeframe="1h", capital=10_000.0, venue="paper",
                   cost=CostModel(fee_bps=4, slippage_bps=1), rules={SYMBOL: MarketRules(lot_step=0.1, min_qty=0.1)},
                   allow_short=True, market="futures", leverage=leverage)


@pytest.mark.parametrize(("leverage", "level"), [(3, 0.5), (40, 0.1)])
def test_a_futures_replay_equals_its_backtest_fill_for_fill(xrp: dict[str, pl.DataFrame], leverage: int,
                                                            level: float) -> None:
    spec = _spec(leverage, level)
    frame = xrp["candles"]
    start, end = frame["ts"][0], frame["ts"][-1]
    end_ms = int(end.timestamp() * 1000) + 3_600_000
    # the built-in max_leverage (10x) and notional cap hold unless written otherwise: this desk
    # allows up to 50x, and flips of 2 x 40x its equity
    replayed = replay_futures(spec, start, end_ms, frames={SYMBOL: frame}, funding=xrp["funding"], mark=xrp["mark"],
                              risk={"default": {"max_leverage": 50, "max_notional_per_order": 250_000}},
                              lookahead_samples=0)
    backtest = futures_backtest(Swing, frame, params=dict(spec.params), leverage=leverage, cost=spec.cost,
                                rules=spec.rules[SYMBOL], initial_cash=10_000.0, allow_short=True,
                                funding=xrp["funding"], mark=xrp["mark"], timeframe="1h", lookahead_samples=0,
                                store=False)

    orders = backtest.orders.filter(pl.col("kind") == "order")
    fills = replayed.fills.filter(~pl.col("client_order_id").str.starts_with("autoclose-"))
    assert fills.height == orders.height > 5, replayed.denied.to_dicts()
    assert fills["bar"].to_list() == orders["bar"].to_list()
    assert fills["side"].to_list() == orders["side"].to_list()
    assert fills["qty"].to_list() == pytest.approx(orders["qty"].to_list(), abs=1e-9)
    assert fills["price"].to_list() == pytest.approx(orders["price"].to_list(), rel=1e-12)
    assert replayed.extra["funding_paid"] == pytest.approx(backtest.extra["funding_paid"], rel=1e-9)
    got = [(x["ts"], round(x["price"], 6)) for x in replayed.extra["liquidations"]]
    assert got == [(x["ts"], round(x["price"], 6)) for x in backtest.extra["liquidations"]]
    if leverage == 40:
        assert got, "the high-leverage case must reach a liquidation in this data"
    assert replayed.equity["equity"].to_numpy() == pytest.approx(backtest.equity["equity"].to_numpy(), rel=1e-9)
    # the ledger, the paper venue and the book end on the same position
    net = fills.select(pl.when(pl.col("side") == "buy").then(pl.col("qty")).otherwise(-pl.col("qty")).sum()).item()
    liquidated = replayed.fills.filter(pl.col("client_order_id").str.starts_with("autoclose-"))
    net += liquidated.select(pl.when(pl.col("side") == "buy").then(pl.col("qty")).otherwise(-pl.col("qty"))
                             .sum()).item() if liquidated.height else 0.0
    assert net == pytest.approx(replayed.extra["paper_position"], abs=1e-9)
    [column] = [c for c in backtest.positions.columns if c.startswith("position_")]
    assert net == pytest.approx(backtest.positions[column][-1], abs=1e-9)


def test_the_gate_refuses_what_the_exchange_tiers_forbid_though_the_backtest_would_trade_it(
    xrp: dict[str, pl.DataFrame],
) -> None:
    """40x on 400k of XRP: Binance's tier for that notional caps leverage at 10x; the live path's
    gate refuses it (so does `futures_backtest`), and the replay shows the denial instead of the trade.
    The desk's own max_leverage is lifted to 125x (in writing) so that the exchange's cap is what refuses."""
    frame = xrp["candles"]
    end_ms = int(frame["ts"][-1].timestamp() * 1000) + 3_600_000
    replayed = replay_futures(_spec(40, 1.0), frame["ts"][0], end_ms, frames={SYMBOL: frame},
                              funding=xrp["funding"], mark=xrp["mark"],
                              risk={"default": {"max_leverage": 125, "max_notional_per_order": "none"}},
                              lookahead_samples=0)
    assert replayed.fills.height == 0 and replayed.denied.height >= 1
    assert set(replayed.denied["code"]) == {"LEVERAGE_EXCEEDS_MAX"}
    assert "cap" in replayed.denied["detail"][0]


def test_a_futures_deployment_is_checked_when_it_is_built() -> None:
    with pytest.raises(ConfigError, match="unified name, e.g. XRP/USDT:USDT"):
        RunSpec(name="x", strategy="sma_cross", symbols=("XRP/USDT",), timeframe="1h", market="futures", leverage=3)
    with pytest.raises(ConfigError, match="whole number from 1 to 125"):
        RunSpec(name="x", strategy="sma_cross", symbols=(SYMBOL,), timeframe="1h", market="futures", leverage=2.5)
    with pytest.raises(ConfigError, match="leverage needs market futures"):
        RunSpec(name="x", strategy="sma_cross", symbols=("BTC/USDT",), timeframe="1h", leverage=3)
    with pytest.raises(ConfigError, match="trades one"):
        RunSpec(name="x", strategy="sma_cross", symbols=(SYMBOL, "BTC/USDT:USDT"), timeframe="1h", market="futures")


def _promoted(shared_data: Path, strategy: str, params: dict, leverage: int, name: str) -> tuple[Any, Any]:
    """Import the XRP files into the lake, store a futures backtest, promote it to paper as `name`."""
    from quantdesk.backtest import LakeQuery
    from quantdesk.backtest.walkforward import walk_forward
    from quantdesk.ingest import import_file
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import PromotionGates, add_user, get_deployment, promote

    lake = Lake()
    for file in ("XRP_USDT_USDT-1h-futures.feather", "XRP_USDT_USDT-1h-mark.feather",
                 "XRP_USDT_USDT-8h-funding_rate.feather"):
        import_file(shared_data / FUTURES / file, lake=lake, exchange="binanceusdm")
    query = LakeQuery.of(SYMBOL, "1h", exchange="binanceusdm")
    run = futures_backtest(strategy, query, params=params, leverage=leverage, lookahead_samples=0, lake=lake)
    # the paper gate's out-of-sample figure: a futures walk-forward of the same contract (a spot one
    # would not count: evidence must trade the market the deployment trades)
    walk_forward(strategy, query, grid=[f"{k}={v}" for k, v in params.items()], train="2d", test="1d", lake=lake,
                 market="futures", leverage=leverage)
    gates = PromotionGates(min_oos_sharpe=-100.0, max_drawdown=1.0, min_trades=0, min_deflated_sharpe=0.0,
                           require_lookahead_pass=False)
    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice")
        promote(ledger, strategy, run_id=run.run_id, to="paper", actor="alice", name=name, venue="paper", gates=gates)
        deployment = get_deployment(ledger, name)
    assert (deployment.market, deployment.leverage, deployment.symbols) == ("futures", float(leverage), (SYMBOL,))
    return lake, run


def test_a_futures_run_promoted_to_paper_replays_from_the_cli_to_its_backtest(
    shared_data: Path, quantdesk_home: Path,
) -> None:
    """The user's path: a futures backtest stored, promoted to paper (market and leverage go with it),
    then `quantdesk run NAME --replay` ends on the backtest's equity."""
    import json

    from typer.testing import CliRunner

    from quantdesk.cli import app
    from quantdesk.ledger import Ledger

    lake, run = _promoted(shared_data, "sma_cross", {"fast": 5, "slow": 20}, 3, "perp")

    ts = run.equity["ts"]
    result = CliRunner().invoke(app, ["run", "perp", "--replay", "--start", ts[0].isoformat(), "--end",
                                      (ts[-1] + (ts[1] - ts[0])).isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fills"] == run.orders.height > 0
    assert summary["final_equity"] == pytest.approx(run.equity["equity"][-1], rel=1e-9)

    # `quantdesk run perp` builds the same parts: a paper perpetual at 3x, a futures book
    from quantdesk.live.futures_book import FuturesBook
    from quantdesk.live.service import build_runner

    with Ledger() as ledger:
        runner = build_runner(ledger, "perp", lake=lake)
        position = runner.gated.broker.futures_position(SYMBOL)
        assert position is not None and position.leverage == 3
        assert isinstance(runner.account(), FuturesBook) and runner.account().leverage == 3.0


def test_a_paper_runner_on_a_perpetual_pays_funding_and_is_liquidated_bar_by_bar(
    shared_data: Path, quantdesk_home: Path,
) -> None:
    """`quantdesk run` on a paper perpetual, stepped bar by bar on the lake's clock: the paper venue
    settles each funding at the mark and liquidates on the mark bar; the runner's book (rebuilt from
    the ledger and the lake's funding) pays the same funding and loses the same margin."""
    from datetime import timedelta

    from quantdesk.core.clock import ManualClock
    from quantdesk.ledger import Ledger
    from quantdesk.live.service import build_runner

    _promoted(shared_data, f"{__file__}:Swing", {"slow": 12, "level": 0.1}, 40, "perp40")
    # a desk that trades 40x says so: the built-in max_leverage is 10x
    toml = quantdesk_home / "quantdesk.toml"
    toml.write_text((toml.read_text() if toml.exists() else "")
                    + "\n[risk.default]\nmax_leverage = 50\nmax_notional_per_order = 250000\n")
    bars = futures_frame(shared_data, "XRP_USDT_USDT-1h-futures.feather")["ts"]
    clock = ManualClock(bars[0])
    with Ledger(clock=clock) as ledger:
        runner = build_runner(ledger, "perp40", clock=clock)
        runner.start()
        paper = runner.gated.broker
        for ts in bars:
            clock.set(ts + timedelta(hours=1))  # the bar has closed
            outcome = runner.step(int(ts.timestamp() * 1000))
            assert outcome.ok, outcome.detail
        book = runner.account()
        fills = ledger.fills(venue="paper", account="paper:perp40")
    paid = -sum(float(p.amount) for p in paper._perps.funding)  # noqa: SLF001 - the paper venue's own record
    assert paper._perps.funding and book.funding_paid == pytest.approx(paid, abs=1e-6)  # noqa: SLF001
    assert paper._perps.liquidations, "40x on this data is liquidated at least once"  # noqa: SLF001
    assert any(f.client_order_id.startswith("autoclose-") for f in ledger_fills(fills))
    assert book.position(SYMBOL) == pytest.approx(float(paper.futures_position(SYMBOL).qty), abs=1e-9)


def ledger_fills(fills: list[Any]) -> list[Any]:
    return [f for f in fills if f.client_order_id]
