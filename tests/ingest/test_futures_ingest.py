"""Perpetual futures data through the real ccxt `binanceusdm` client against the simulated venue.

The venue serves freqtrade's real 2021 XRP/USDT:USDT candles, mark prices and funding rates at
Binance's USDⓈ-M paths; what ingest stores must equal what importing the same files stores, and a
futures backtest on either lake must agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.backtest import LakeQuery, futures_backtest
from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import RetryPolicy, import_file, ingest, ingest_funding
from quantdesk.ingest import funding as funding_module
from quantdesk.lake import Lake
from quantdesk.venue import SimulatedVenue

from ..xrp_futures import FUTURES, xrp_1h

pytestmark = [pytest.mark.integration, pytest.mark.realdata]

SYMBOL = "XRP/USDT:USDT"
NOW = datetime(2021, 12, 20, tzinfo=UTC)


@pytest.fixture
def venue(shared_data: Path) -> Iterator[SimulatedVenue]:
    data = xrp_1h(shared_data)
    candles, mark, funding = data["candles"], data["mark"], data["funding"]
    with SimulatedVenue({"XRP/USDT": candles}, clock=ManualClock(NOW), timeframe="1h",
                        perpetuals={SYMBOL: {"candles": candles, "mark": mark, "funding": funding}}) as running:
        yield running


def _config(venue: SimulatedVenue) -> VenueConfig:
    return VenueConfig(exchange="binanceusdm", api_url=venue.url)


def _imported(shared: Path, tmp: Path) -> Lake:
    lake = Lake(tmp / "imported")
    for name in ("XRP_USDT_USDT-1h-futures.feather", "XRP_USDT_USDT-1h-mark.feather",
                 "XRP_USDT_USDT-8h-funding_rate.feather"):
        import_file(shared / FUTURES / name, lake=lake, exchange="binanceusdm")
    return lake


def test_ingest_stores_what_the_import_of_the_same_files_stores(venue: SimulatedVenue, shared_data: Path,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake, clock = Lake(tmp_path / "ingested"), ManualClock(NOW)
    retry = RetryPolicy(max_attempts=2, initial_backoff_s=0.01)
    [trades] = ingest(_config(venue), SYMBOL, "1h", "2021-11-01", lake=lake, clock=clock, retry=retry,
                      lake_exchange="binanceusdm")
    [marks] = ingest(_config(venue), SYMBOL, "1h", "2021-11-01", lake=lake, clock=clock, retry=retry,
                     lake_exchange="binanceusdm", price="mark")
    monkeypatch.setattr(funding_module, "PAGE", 40)  # 91 settlements: three pages
    [funding] = ingest_funding(_config(venue), SYMBOL, "2021-11-01", lake=lake, clock=clock, retry=retry,
                               lake_exchange="binanceusdm")
    assert (trades.fetched, marks.symbol, marks.fetched) == (100, f"{SYMBOL}@mark", 100)
    assert (funding.fetched, funding.pages, funding.inserted) == (91, 3, 91)
    assert venue.request_count("markPriceKlines") >= 1 and venue.request_count("fundingRate") == 3

    imported = _imported(shared_data, tmp_path)
    ohlcv = ["ts", "open", "high", "low", "close", "volume"]
    assert lake.candles(SYMBOL, "1h", exchange="binanceusdm").select(ohlcv).equals(
        imported.candles(SYMBOL, "1h", exchange="binanceusdm").select(ohlcv))
    # Binance's mark klines carry no volume; the prices are what the mark file holds
    prices = ["ts", "open", "high", "low", "close"]
    assert lake.candles(f"{SYMBOL}@mark", "1h", exchange="binanceusdm").select(prices).equals(
        imported.candles(f"{SYMBOL}@mark", "1h", exchange="binanceusdm").select(prices))
    got, want = (x.funding.read(SYMBOL, exchange="binanceusdm") for x in (lake, imported))
    assert got["ts"].equals(want["ts"])  # the exchange's ms jitter survives the round trip
    # Binance sends 8 decimals; freqtrade's file holds one rate as -0.0021933400000000002
    assert got["rate"].to_list() == [float(f"{r:.8f}") for r in want["rate"]]

    again = ingest_funding(_config(venue), SYMBOL, "2021-11-01", lake=lake, clock=clock, retry=retry,
                           lake_exchange="binanceusdm")[0]
    assert (again.fetched, again.resumed_from) == (0, datetime(2021, 12, 18, 0, 0, 0, 14000, tzinfo=UTC))

    query = LakeQuery.of(SYMBOL, "1h", exchange="binanceusdm")
    runs = [futures_backtest("sma_cross", query, params={"fast": 5, "slow": 20}, leverage=5, lake=source,
                             lookahead_samples=0, store=False) for source in (lake, imported)]
    assert runs[0].metrics == runs[1].metrics and runs[0].extra["funding_paid"] == runs[1].extra["funding_paid"]


def test_funding_of_a_non_perpetual_is_refused_with_the_symbol_to_use(venue: SimulatedVenue, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"did you mean XRP/USDT:USDT"):
        ingest_funding(_config(venue), "XRP/USDT", "2021-11-01", lake=Lake(tmp_path / "l"), clock=ManualClock(NOW),
                       retry=RetryPolicy(max_attempts=1))


def test_cli_ingest_futures_data(venue: SimulatedVenue, quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(
        f'[venues.usdm]\nexchange = "binanceusdm"\napi_url = "{venue.url}"\n')
    out = CliRunner().invoke(app, ["ingest", "--exchange", "usdm", "--symbol", SYMBOL, "--timeframe", "1h",
                                   "--since", "2021-11-01", "--until", "2021-11-22", "--futures-data", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert [r["symbol"] for r in payload["reports"]] == [SYMBOL, f"{SYMBOL}@mark"]
    assert payload["funding"][0]["inserted"] == 12  # settlements before --until
    lake = Lake()
    assert lake.funding.series() == [("usdm", SYMBOL)]
    assert lake.candles(f"{SYMBOL}@mark", "1h", exchange="usdm").height == 100
