"""Market data through the real ccxt.binance client: markets, klines paging, tickers."""

from __future__ import annotations

import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.venue import SimulatedVenue, binance_client
from tests.venue.conftest import MINUTE_MS, START_MS, make_candles

pytestmark = pytest.mark.integration


def test_load_markets_asks_what_binance_would_and_carries_the_filters(venue, exchange) -> None:
    markets = exchange.load_markets()
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
    assert btc["precision"]["price"] == pytest.approx(0.01)
    assert btc["precision"]["amount"] == pytest.approx(1e-5)
    assert btc["limits"]["cost"]["min"] == pytest.approx(5.0)
    # A default client with keys: spot markets, margin pairs, futures families, currencies.
    assert set(venue.request_counts()) == {
        "GET /api/v3/exchangeInfo", "GET /sapi/v1/margin/allPairs", "GET /sapi/v1/margin/isolated/allPairs",
        "GET /fapi/v1/exchangeInfo", "GET /dapi/v1/exchangeInfo", "GET /sapi/v1/capital/config/getall"}
    assert venue.request_counts()["GET /api/v3/exchangeInfo"] == 1
    assert all(r.status == 200 for r in venue.request_log)


def test_fetch_ohlcv_pages_like_binance_and_returns_the_candles_exactly(
    venue, exchange, candles
) -> None:
    rows: list[list[float]] = []
    since = START_MS
    while True:
        page = exchange.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=1000)
        if not page:
            break
        rows += page
        since = page[-1][0] + MINUTE_MS
    # 1000 closed bars plus the bar that opened exactly at the clock (masked)
    assert len(rows) == 1001
    assert venue.request_count("klines") == 3  # 1000 + 1 + an empty page
    expected = candles["BTC/USDT"].head(1000)
    got = pl.DataFrame(
        rows[:1000], schema=["t", "open", "high", "low", "close", "volume"], orient="row"
    )
    assert got["t"].to_list() == expected["ts"].dt.epoch("ms").to_list()
    for column in ("open", "high", "low", "close", "volume"):
        assert got[column].to_list() == expected[column].to_list()


def test_klines_limit_is_capped_at_1000_and_defaults_to_the_latest(venue, exchange) -> None:
    page = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5000)
    assert len(page) == 1000
    assert page[-1][0] == venue.clock.now_ms()  # the latest bar is the one the clock is in
    tail = exchange.fetch_ohlcv(
        "BTC/USDT", "1m", params={"endTime": START_MS + 9 * MINUTE_MS}, limit=3
    )
    assert [r[0] for r in tail] == [START_MS + k * MINUTE_MS for k in (7, 8, 9)]


def test_the_current_bar_never_shows_the_future(candles) -> None:
    frame = candles["BTC/USDT"]
    clock = ManualClock(START_MS + 10 * MINUTE_MS + 30_000)  # half way through bar 10
    with SimulatedVenue({"BTC/USDT": frame}, clock=clock) as venue:
        client = binance_client(venue)
        rows = client.fetch_ohlcv("BTC/USDT", "1m", since=START_MS)
        assert len(rows) == 11
        bar = frame.row(10, named=True)
        assert rows[-1][1:] == [bar["open"]] * 4 + [0.0]
        assert client.fetch_ticker("BTC/USDT")["last"] == pytest.approx(bar["open"], abs=0.01)
        venue.advance(by=30_000)
        assert client.fetch_ohlcv("BTC/USDT", "1m", since=START_MS)[-2][4] == bar["close"]
        client.session.close()


def test_five_minute_klines_aggregate_like_polars(venue, exchange, candles) -> None:
    rows = exchange.fetch_ohlcv("ETH/USDT", "5m", since=START_MS, limit=50)
    reference = (
        candles["ETH/USDT"]
        .head(250)
        .group_by_dynamic("ts", every="5m")
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
    )
    assert [r[0] for r in rows] == reference["ts"].dt.epoch("ms").to_list()
    for i, column in enumerate(("open", "high", "low", "close"), start=1):
        assert [r[i] for r in rows] == reference[column].to_list()
    assert [r[5] for r in rows] == pytest.approx(reference["volume"].to_list())


def test_tickers_and_time(venue, exchange) -> None:
    tickers = exchange.fetch_tickers()
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    assert tickers["BTC/USDT"]["last"] > 0
    # the server time is the market clock (what `quantdesk run --venue-clock` follows), not the wall clock
    assert exchange.fetch_time() == venue.clock.now_ms()


def test_venue_needs_candles() -> None:
    from quantdesk.core.errors import DataError

    with pytest.raises(DataError, match="at least one symbol"):
        SimulatedVenue({})
    with pytest.raises(DataError, match="no candles"):
        SimulatedVenue({"BTC/USDT": make_candles(5).head(0)})
