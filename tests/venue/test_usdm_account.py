"""The simulated venue's USDⓈ-M account through the real ccxt `binanceusdm` client, on real data.

freqtrade's 2021 XRP/USDT:USDT trade candles, mark candles and funding rates feed the venue.
Every figure the client reads back (fill price, liquidation price, each funding payment, the
realised PnL, the wallet, the liquidation bar) is checked against a calculation made here
from the raw files, independent of the venue's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.margin import liquidation_price, tiers_for
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest.exchange import make_exchange
from quantdesk.venue import SimulatedVenue

from ..xrp_futures import xrp_1h

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

SYMBOL = "XRP/USDT:USDT"
START = datetime(2021, 11, 17, 2, 30, tzinfo=UTC)
WALLET = 10_000.0
FEE = 0.001  # the venue's default fee: 10 bps of the notional


@pytest.fixture
def data(shared_data: Path) -> dict[str, pl.DataFrame]:
    return xrp_1h(shared_data)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def venue(data: dict[str, pl.DataFrame], clock: ManualClock) -> Iterator[SimulatedVenue]:
    with SimulatedVenue({"XRP/USDT": data["candles"]}, clock=clock, timeframe="1h",
                        perpetuals={SYMBOL: data}, futures_balance=WALLET) as running:
        yield running


@pytest.fixture
def client(venue: SimulatedVenue) -> Any:
    return make_exchange(VenueConfig(exchange="binanceusdm", api_url=venue.url),
                         credentials=(venue.api_key, venue.api.api_secret), rate_limit=False)


def _open_at(frame: pl.DataFrame, when: datetime) -> float:
    """The open of the bar holding `when` (the venue's current price)."""
    return frame.filter(pl.col("ts") <= when).row(-1, named=True)["open"]


def test_a_position_pays_funding_at_the_mark_and_realises_its_pnl(client: Any, clock: ManualClock,
                                                                   data: dict[str, pl.DataFrame]) -> None:
    client.set_leverage(10, SYMBOL)
    client.set_margin_mode("isolated", SYMBOL)
    order = client.create_order(SYMBOL, "market", "buy", 1000)
    entry = _open_at(data["candles"], START)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 1000, entry)

    [position] = client.fetch_positions([SYMBOL])
    margin = 1000 * entry / 10
    assert (position["side"], position["contracts"], position["leverage"]) == ("long", 1000, 10)
    assert position["marginMode"] == "isolated" and position["entryPrice"] == entry
    assert position["liquidationPrice"] == pytest.approx(liquidation_price(1000, entry, margin, tiers_for(SYMBOL)),
                                                         abs=1e-8)

    end = datetime(2021, 11, 19, 8, 30, tzinfo=UTC)
    clock.set(end)
    history = client.fetch_funding_history(SYMBOL)
    settled = data["funding"].filter((pl.col("ts") > START) & (pl.col("ts") <= end))
    expected = [-1000 * _open_at(data["mark"], ts) * rate for ts, rate in settled.iter_rows()]
    assert len(history) == settled.height == 5
    assert [h["timestamp"] for h in history] == [int(ts.timestamp() * 1000) for ts in settled["ts"]]
    assert [h["amount"] for h in history] == pytest.approx(expected, abs=1e-8)

    client.create_order(SYMBOL, "market", "sell", 1000, params={"reduceOnly": True})
    exit_ = _open_at(data["candles"], end)
    trades = client.fetch_my_trades(SYMBOL)
    assert float(trades[-1]["info"]["realizedPnl"]) == pytest.approx(1000 * (exit_ - entry), abs=1e-8)
    wallet = WALLET + 1000 * (exit_ - entry) + sum(expected) - FEE * 1000 * (entry + exit_)
    balance = client.fetch_balance()["USDT"]
    assert balance["total"] == pytest.approx(wallet, abs=1e-6) and balance["used"] == 0
    assert client.fetch_positions([SYMBOL]) == []


def test_a_position_is_liquidated_on_the_first_mark_bar_through_its_price(
    client: Any, clock: ManualClock, data: dict[str, pl.DataFrame],
) -> None:
    client.set_leverage(50, SYMBOL)
    client.create_order(SYMBOL, "market", "buy", 1000)
    entry = _open_at(data["candles"], START)
    margin = 1000 * entry / 50
    liq = liquidation_price(1000, entry, margin, tiers_for(SYMBOL))
    # independently: the first whole mark bar after the entry whose low reaches the price, with
    # the margin cut by any funding settled before that bar closed (a bar is judged at its close)
    bars = data["mark"].filter(pl.col("ts") >= START)
    funding = data["funding"].filter(pl.col("ts") > START)
    paid, hit = 0.0, None
    for bar in bars.iter_rows(named=True):
        close = bar["ts"] + timedelta(hours=1)
        for ts, rate in funding.filter(pl.col("ts") < close).iter_rows():
            paid += -1000 * _open_at(data["mark"], ts) * rate
        funding = funding.filter(pl.col("ts") >= close)
        liq_then = liquidation_price(1000, entry, margin + paid, tiers_for(SYMBOL))
        if bar["low"] <= liq_then:
            hit = bar
            break
    assert hit is not None, "the real data holds a drop through a 50x long's liquidation price"
    assert liq > 0

    clock.set(hit["ts"].replace(minute=30))  # inside the bar: not closed yet, still open
    assert client.fetch_positions([SYMBOL])[0]["contracts"] == 1000
    clock.set(hit["ts"] + timedelta(hours=1))  # the bar closes
    assert client.fetch_positions([SYMBOL]) == []
    # closed as Binance closes it: an autoclose market order at the liquidation price (the mark
    # open when it gapped through), the margin left kept as the clearance fee
    at = hit["open"] if hit["open"] < liq_then else liq_then
    [closer] = [t for t in client.fetch_my_trades(SYMBOL) if t["side"] == "sell"]
    assert closer["timestamp"] == int(hit["ts"].timestamp() * 1000) and closer["amount"] == 1000
    assert closer["price"] == pytest.approx(at, abs=1e-8)
    assert client.fetch_order(closer["order"], SYMBOL)["clientOrderId"].startswith("autoclose-")
    income = client.fetch_funding_history(SYMBOL, params={"incomeType": "INSURANCE_CLEAR"})
    [cleared] = [i for i in income if i["info"]["incomeType"] == "INSURANCE_CLEAR"]
    realized = float(closer["info"]["realizedPnl"])
    assert realized == pytest.approx(1000 * (at - entry), abs=1e-8)
    assert cleared["amount"] + realized == pytest.approx(-(margin + paid), abs=1e-6)  # the isolated margin is lost
    balance = client.fetch_balance()["USDT"]
    assert balance["total"] == pytest.approx(WALLET - FEE * 1000 * entry - margin, abs=1e-6)


def test_orders_the_venue_cannot_take_are_refused_with_binance_errors(client: Any, venue: SimulatedVenue) -> None:
    import ccxt

    with pytest.raises(ccxt.BadRequest, match="MARKET orders only"):
        client.create_order(SYMBOL, "limit", "buy", 10, 1.0)
    with pytest.raises(ccxt.ExchangeError, match="Margin is insufficient"):
        client.create_order(SYMBOL, "market", "buy", 1_000_000)  # 1M XRP at 20x: more than the wallet
    with pytest.raises(ccxt.ExchangeError, match="ReduceOnly"):
        client.create_order(SYMBOL, "market", "sell", 10, params={"reduceOnly": True})  # nothing to reduce
    stranger = make_exchange(VenueConfig(exchange="binanceusdm", api_url=venue.url),
                             credentials=(venue.api_key, "not-the-secret"), rate_limit=False)
    with pytest.raises(ccxt.AuthenticationError):
        stranger.fetch_balance()


def test_the_gate_judges_a_perpetual_order_by_the_accounts_leverage_and_liquidation_distance(
    client: Any, clock: ManualClock, tmp_path: Path,
) -> None:
    """Through GatedBroker + CcxtBroker on binanceusdm: the venue's leverage feeds max_leverage and
    min_liquidation_distance_pct; an approved order's fill lands in the ledger as a signed position."""
    from decimal import Decimal

    from quantdesk.broker import CcxtBroker, GatedBroker
    from quantdesk.core.orders import OrderIntent
    from quantdesk.core.types import OrderType, Side
    from quantdesk.ledger import Ledger
    from quantdesk.risk import RiskConfig, RiskGate

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock)
    broker = CcxtBroker(client, name="usdm", clock=clock, sleep=lambda s: None)
    gate = RiskGate(RiskConfig.from_dict({"default": {"max_leverage": 10, "min_liquidation_distance_pct": 5}}), clock, ledger)
    gated = GatedBroker(broker, ledger, gate, venue="usdm", clock=clock, actor="test")
    gated.start()

    def order(cid: str, side: Side, qty: str) -> Any:
        return gated.submit(OrderIntent(client_order_id=cid, deployment="perp", venue="usdm", symbol=SYMBOL,
                                        side=side, type=OrderType.MARKET, qty=Decimal(qty), ts=clock.now()))

    client.set_leverage(20, SYMBOL)
    denied = order("lev20", Side.BUY, "1000")
    assert (denied.approved, denied.code) == (False, "LEVERAGE_EXCEEDS_MAX") and "20" in denied.detail
    client.set_leverage(10, SYMBOL)  # a 10x long's liquidation is ~9 % away: allowed
    filled = order("lev10", Side.SELL, "1000")
    assert filled.approved and str(filled.status) == "filled", filled.detail
    [position] = ledger.positions(venue="usdm")
    assert position.qty == Decimal(-1000)  # a short, signed like the venue's
    gate_config = RiskConfig.from_dict({"default": {"max_leverage": 10, "min_liquidation_distance_pct": 15}})
    gated.gate = RiskGate(gate_config, clock, ledger)  # a stricter desk: 15 % from liquidation
    closer = order("add", Side.SELL, "500")
    assert (closer.approved, closer.code) == (False, "LIQUIDATION_TOO_CLOSE"), closer.detail
    assert order("reduce", Side.BUY, "500").approved  # reducing is always allowed
    ledger.close()


def test_the_live_runner_trades_a_perpetual_on_the_venue_through_ccxt(
    client: Any, venue: SimulatedVenue, clock: ManualClock, data: dict[str, pl.DataFrame], tmp_path: Path,
) -> None:
    """Runner -> GatedBroker -> CcxtBroker(binanceusdm) -> the venue's USDⓈ-M account, bar by bar on the
    real XRP data: the venue's leverage is the deployment's, its position is the runner's book, and the
    book's funding (from the lake) is what the venue charged."""
    from datetime import timedelta

    from quantdesk.broker import CcxtBroker, GatedBroker
    from quantdesk.core.costs import CostModel, MarketRules
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.live import Runner, RunSpec
    from quantdesk.live.market import LakeMarket
    from quantdesk.risk import RiskConfig, RiskGate

    lake = Lake(tmp_path / "lake")
    lake.write(data["candles"], exchange="binanceusdm", symbol=SYMBOL, timeframe="1h")
    lake.write(data["mark"], exchange="binanceusdm", symbol=f"{SYMBOL}@mark", timeframe="1h")
    lake.funding.write(data["funding"], exchange="binanceusdm", symbol=SYMBOL)
    spec = RunSpec(name="perp-live", strategy="sma_cross", params={"fast": 3, "slow": 8}, symbols=(SYMBOL,),
                   timeframe="1h", venue="usdm", capital=1_000.0, cost=CostModel(fee_bps=10), allow_short=True,
                   rules={SYMBOL: MarketRules(lot_step=0.1, min_qty=0.1)}, lake_exchange="binanceusdm",
                   market="futures", leverage=5)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock)
    broker = CcxtBroker(client, name="usdm", clock=clock, symbols=[SYMBOL], sleep=lambda s: None)
    broker.set_leverage(SYMBOL, 5)  # as `quantdesk run` does for a futures deployment
    gate = RiskGate(RiskConfig.from_dict({"default": {"max_leverage": 10}}), clock, ledger)
    gated = GatedBroker(broker, ledger, gate, venue="usdm", clock=clock, actor="runner")
    runner = Runner(spec, ledger=ledger, gated=gated, clock=clock, follow_timeout_s=0.0,
                    market=LakeMarket(lake, exchange="binanceusdm", symbols=[SYMBOL], timeframe="1h"))
    runner.start()
    bars = data["candles"]["ts"]
    first = int(np.searchsorted(bars.dt.epoch("ms").to_numpy(), int(START.timestamp() * 1000)))
    for ts in bars[first:first + 60]:
        clock.set(ts + timedelta(hours=1))  # the bar has closed; the venue's clock is the same clock
        outcome = runner.step(int(ts.timestamp() * 1000))
        assert outcome.ok, outcome.detail
    sent = [f for f in ledger.fills(deployment="perp-live")]
    assert len(sent) >= 3 and {f.side.value for f in sent} == {"buy", "sell"}  # long and short
    [position] = client.fetch_positions([SYMBOL]) or [None]
    book = runner.account()
    venue_qty = 0.0 if position is None else position["contracts"] * (1 if position["side"] == "long" else -1)
    assert book.position(SYMBOL) == pytest.approx(venue_qty, abs=1e-9)
    assert position is None or position["leverage"] == 5
    paid = -sum(h["amount"] for h in client.fetch_funding_history(SYMBOL))
    assert paid != 0 and book.funding_paid == pytest.approx(paid, abs=1e-6)
    ledger.close()
