"""Stress tests (issue 25): a crash in the real 2021 XRP data liquidates a leveraged perpetual at the price the
futures backtest uses; hypothetical shocks per asset and group, funding shocks and an unreachable venue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.errors import RiskError
from quantdesk.core.margin import liquidation_price, tiers_for
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.ledger._types import canonical_json
from quantdesk.strategies import Strategy
from tests.xrp_futures import FUTURES

SYMBOL = "XRP/USDT:USDT"


class AlwaysLong(Strategy):
    """Fully invested, long, from the first bar."""

    def target(self, candles: pl.DataFrame) -> pl.Series:
        return pl.Series("t", np.ones(candles.height))


def _futures_deployment(ledger: Ledger, name: str, leverage: float) -> None:
    from quantdesk.ledger.registry import update_deployment
    from quantdesk.promotion import create_deployment

    create_deployment(ledger, name, strategy="sma_cross", symbols=(SYMBOL,), timeframe="1h", actor="ops",
                      exchange="binanceusdm", venue="paper")
    update_deployment(ledger, name, {"settings": canonical_json({"market": "futures", "leverage": leverage})})


def _fill(ledger: Ledger, name: str, qty: float, price: float, i: int = 0) -> None:
    ledger.record_intent(client_order_id=f"{name}-{i}", venue="paper", account=name, symbol=SYMBOL, side="buy",
                         order_type="market", qty=repr(qty), deployment=name)
    ledger.record_fill(venue="paper", account=name, trade_id=f"{name}-{i}", symbol=SYMBOL, side="buy", qty=repr(qty),
                       price=repr(price), ts=datetime(2021, 11, 17, 2, tzinfo=UTC), client_order_id=f"{name}-{i}")


def _stress(*argv: str) -> dict:
    result = CliRunner().invoke(app, ["risk", "stress", *argv, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.realdata
@pytest.mark.integration
def test_a_crash_in_the_real_xrp_data_liquidates_a_leveraged_perpetual_at_the_backtests_price(
        shared_data: Path, quantdesk_home: Path) -> None:
    from quantdesk.backtest import futures_backtest
    from quantdesk.core.costs import CostModel, MarketRules
    from quantdesk.ingest.importing import import_file
    from tests.xrp_futures import futures_frame

    lake = Lake()
    for name in ("XRP_USDT_USDT-5m-futures.feather", "XRP_USDT_USDT-1h-mark.feather"):
        import_file(shared_data / FUTURES / name, lake=lake, exchange="binanceusdm")
    # the position: the futures backtest's own first fill at 10x (its entry, its quantity, its margin)
    frame = futures_frame(shared_data, "XRP_USDT_USDT-1h-futures.feather")
    run = futures_backtest(AlwaysLong, frame, leverage=10, cost=CostModel(fee_bps=0, slippage_bps=0),
                           rules=MarketRules(lot_step=0.1), initial_cash=10_000.0, timeframe="1h",
                           lookahead_samples=0, store=False)
    first = run.orders.row(0, named=True)
    qty, entry = float(first["qty"]), float(first["price"])
    backtest_liq = float(run.equity["liquidation_price"][first["bar"]])
    (quantdesk_home / "quantdesk.toml").write_text(
        '[[risk.scenarios]]\nname = "xrp-2021-11-16"\nstart = "2021-11-16"\nend = "2021-11-16"\n')
    with Ledger() as ledger:
        _futures_deployment(ledger, "xrp10", 10)
        _fill(ledger, "xrp10", qty, entry)
        _futures_deployment(ledger, "xrp3", 3)
        _fill(ledger, "xrp3", qty / 10, entry)
    [report] = _stress("--scenario", "xrp-2021-11-16")["scenarios"]
    assert report["available"] and report["liquidations"] == 1
    rows = {r["deployment"]: r for r in report["positions"]}
    ten, three = rows["xrp10"], rows["xrp3"]
    assert ten["liquidated"] and not three["liquidated"]
    assert ten["liquidation_price"] == pytest.approx(backtest_liq, rel=1e-9), "the futures backtest's price"
    margin = qty * entry / 10
    assert ten["liquidation_price"] == pytest.approx(liquidation_price(qty, entry, margin, tiers_for(SYMBOL)),
                                                     rel=1e-12)
    assert ten["margin_lost_quote"] == pytest.approx(margin, rel=1e-9)
    price = float(lake.candles(SYMBOL, "5m", exchange="binanceusdm")["close"][-1])  # the book's newest price
    assert ten["price"] == price and ten["pnl_quote"] == pytest.approx(-(margin + qty * (price - entry)), rel=1e-9)
    # the window's move: XRP fell from the 15th's close to the 16th's low on the mark price (about −12 %)
    marks = lake.candles(f"{SYMBOL}@mark", "1h", exchange="binanceusdm")
    base = marks.filter(pl.col("ts") < datetime(2021, 11, 16, tzinfo=UTC))["close"][-1]
    low = marks.filter(pl.col("ts").dt.date() == datetime(2021, 11, 16).date())["low"].min()
    worst = price * low / base
    assert worst <= ten["liquidation_price"] and worst > three["liquidation_price"]
    assert report["pnl_quote"] == pytest.approx(ten["pnl_quote"] + three["pnl_quote"], rel=1e-12)
    cli = CliRunner().invoke(app, ["risk", "stress", "--scenario", "xrp-2021-11-16", "--wide"], env={"COLUMNS": "200"})
    assert cli.exit_code == 0 and "LIQUIDATED xrp-2021-11-16: XRP/USDT:USDT" in cli.stdout


def _synthetic_book(quantdesk_home: Path) -> None:
    from quantdesk.lake import write_sample

    write_sample(Lake(), symbols=3, days=3)
    with Ledger() as ledger:
        for i, (venue, symbol, qty) in enumerate((("binance", "BTC/USDT", "0.5"), ("binance", "ETH/USDT", "4"),
                                                  ("okx", "SOL/USDT", "-50"))):
            side = "buy" if not qty.startswith("-") else "sell"
            ledger.record_intent(client_order_id=f"s{i}", venue=venue, symbol=symbol, side=side, order_type="market",
                                 qty=qty.lstrip("-"), deployment="manual")
            ledger.record_fill(venue=venue, trade_id=f"s{i}", symbol=symbol, side=side, qty=qty.lstrip("-"),
                               price="100", ts=datetime(2024, 1, 2, tzinfo=UTC), client_order_id=f"s{i}")


def test_hypothetical_shocks_per_asset_and_group_funding_and_an_unreachable_venue(quantdesk_home: Path) -> None:
    _synthetic_book(quantdesk_home)
    (quantdesk_home / "quantdesk.toml").write_text("""
[[risk.scenarios]]
name = "alt-crash"
shocks = { BTC = -0.30, alts = -0.45 }

[[risk.scenarios]]
name = "defi"
groups = { mine = ["SOL"] }
shocks = { mine = 0.20, all = -0.05 }
unreachable_venues = ["okx"]
""")
    lake = Lake()
    last = {s: float(lake.candles(s, "1m", exchange="synthetic")["close"][-1]) for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT")}
    [crash] = _stress("--scenario", "alt-crash")["scenarios"]
    moves = {p["symbol"]: p["move"] for p in crash["positions"]}
    assert moves == {"BTC/USDT": -0.30, "ETH/USDT": -0.45, "SOL/USDT": -0.45}
    expected = 0.5 * last["BTC/USDT"] * -0.30 + 4 * last["ETH/USDT"] * -0.45 - 50 * last["SOL/USDT"] * -0.45
    assert crash["pnl_quote"] == pytest.approx(expected, rel=1e-12) and crash["liquidations"] == 0
    [defi] = _stress("--scenario", "defi")["scenarios"]
    rows = {p["symbol"]: p for p in defi["positions"]}
    assert rows["SOL/USDT"]["move"] == 0.20 and rows["BTC/USDT"]["move"] == -0.05
    assert rows["SOL/USDT"]["frozen"] and not rows["BTC/USDT"]["frozen"]
    assert defi["frozen_quote"] == pytest.approx(50 * last["SOL/USDT"] * 1.2, rel=1e-12)
    every = _stress("--all")["scenarios"]
    unavailable = [s for s in every if not s["available"]]
    assert {s["scenario"] for s in unavailable} == {"covid-2020-03-12", "crash-2021-05-19", "luna-2022-05-09",
                                                   "ftx-2022-11-08"}
    assert "is not in the lake for 2020-03-12..2020-03-12: ingest it first: quantdesk ingest --exchange synthetic" \
        in unavailable[0]["detail"]


def test_a_funding_shock_charges_perpetuals_out_of_their_margin() -> None:
    from quantdesk.risk.analytics import ShockPath, StressPosition, apply_scenario

    perp = StressPosition(deployment="d", venue="v", symbol=SYMBOL, asset="XRP", qty=1000.0, price=1.0,
                          perpetual=True, entry=1.0, margin=100.0, leverage=10)
    spot = StressPosition(deployment="d", venue="v", symbol="XRP/USDT", asset="XRP", qty=1000.0, price=1.0)
    calm = apply_scenario([perp, spot], {}, funding_rate=0.003, funding_intervals=9)
    assert calm.positions[0].funding_quote == pytest.approx(-27.0) and calm.positions[1].funding_quote == 0.0
    assert calm.pnl_quote == pytest.approx(-27.0) and calm.liquidations == 0
    # funding eats the margin, so a smaller move liquidates: the price rises with the margin paid
    moved = apply_scenario([perp], {"XRP": ShockPath.shock(-0.07)}, funding_rate=0.003, funding_intervals=9)
    dry = apply_scenario([perp], {"XRP": ShockPath.shock(-0.07)})
    assert moved.liquidations == 1 and dry.liquidations == 0
    assert moved.positions[0].liquidation_price == pytest.approx(
        liquidation_price(1000.0, 1.0, 100.0 - 1000.0 * 0.93 * 0.003 * 9, tiers_for(SYMBOL)))


def test_scenario_settings_are_validated_naming_the_key() -> None:
    from quantdesk.risk import RiskConfig

    for raw, message in (
        ({"scenarios": [{"name": "x", "start": "2021-01-02"}]}, "needs both start and end"),
        ({"scenarios": [{"name": "x", "start": "2021-01-02", "end": "2021-01-01"}]}, "is before start"),
        ({"scenarios": [{"name": "x", "shocks": {"BTC": -1.5}}]}, "simple returns from -1"),
        ({"scenarios": [{"name": "x"}]}, "a scenario needs start/end, shocks"),
        ({"scenarios": [{"name": "x", "shock": {"BTC": -0.3}}]}, "risk.scenarios.0.shock"),
    ):
        with pytest.raises(RiskError, match=message):
            RiskConfig.from_dict(raw)
