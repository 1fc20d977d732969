"""The simulated venue's book: depth, spread and offset over REST, tickers and the diff-depth stream (issue 28)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import make_exchange
from quantdesk.venue import SimulatedVenue, binance_client
from quantdesk.venue.book_shape import BookShape
from quantdesk.venue.crosses import cross_spec, implied_cross
from quantdesk.venue.streams import MarketStreams
from tests.live.conftest import candles

pytestmark = pytest.mark.integration
SHAPE = BookShape(levels=4, spread_bps=Decimal(10), price_offset_bps=Decimal(25), level_qty=Decimal("0.3"))


def venue(shape: BookShape = SHAPE, **kwargs: object) -> SimulatedVenue:
    frame = candles(300)
    return SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(int(frame["ts"][200].timestamp() * 1000) + 30_000),
                          book_shape=shape, **kwargs)


def expected(sim: SimulatedVenue) -> tuple[list[Decimal], list[Decimal]]:
    """The planted book, by hand: mid moved 25 bps, 10 bps apart, one tick between levels."""
    price = sim.engine.current_price("BTC/USDT", sim.clock.now_ms())
    tick = sim.engine.specs["BTC/USDT"].tick_size
    mid = price * Decimal("1.0025")
    bid = (mid * Decimal("0.9995") / tick).to_integral_value(ROUND_FLOOR) * tick
    ask = (mid * Decimal("1.0005") / tick).to_integral_value(ROUND_CEILING) * tick
    return [bid - i * tick for i in range(4)], [ask + i * tick for i in range(4)]


def test_rest_depth_and_tickers_show_the_shaped_book() -> None:
    with venue() as sim:
        client = binance_client(sim)
        book = client.fetch_order_book("BTC/USDT")
        bids, asks = expected(sim)
        assert [Decimal(repr(p)) for p, _ in book["bids"]] == bids
        assert [Decimal(repr(p)) for p, _ in book["asks"]] == asks
        assert {q for _, q in book["bids"] + book["asks"]} == {0.3}
        assert len(client.fetch_order_book("BTC/USDT", 2)["asks"]) == 2
        ticker = client.fetch_ticker("BTC/USDT")
        assert (Decimal(repr(ticker["bid"])), Decimal(repr(ticker["ask"]))) == (bids[0], asks[0])


def test_the_default_book_is_the_venues_original_one() -> None:
    with venue(BookShape()) as sim:
        book = binance_client(sim).fetch_order_book("BTC/USDT")
        price = sim.engine.current_price("BTC/USDT", sim.clock.now_ms())
        tick = sim.engine.specs["BTC/USDT"].tick_size
        assert book["bids"] == [[float(price - tick), 1000.0]] and book["asks"] == [[float(price + tick), 1000.0]]


def test_the_admin_endpoint_moves_the_book_and_refuses_nonsense() -> None:
    with venue() as sim:
        def post(body: dict) -> tuple[int, dict]:
            request = urllib.request.Request(f"{sim.url}/_admin/book", data=json.dumps(body).encode(), method="POST")
            try:
                with urllib.request.urlopen(request) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        status, shown = post({"price_offset_bps": 0, "levels": 2})
        assert status == 200 and shown["price_offset_bps"] == "0" and shown["levels"] == 2
        assert len(binance_client(sim).fetch_order_book("BTC/USDT")["bids"]) == 2
        assert post({"price_offset_bps": "lots"}) == (400, {
            "code": -1100, "msg": "bad admin request: book setting price_offset_bps = 'lots' is not a number"})
        assert post({"colour": 1})[0] == 400


def test_withdrawal_fees_reach_ccxt_fetch_deposit_withdraw_fees() -> None:
    with venue(withdraw_fees={"BTC": "0.0002"}) as sim:
        fees = binance_client(sim).fetch_deposit_withdraw_fees()
        assert fees["BTC"]["withdraw"]["fee"] == 0.0002
        assert fees["BTC"]["networks"]["BTC"]["withdraw"]["fee"] == 0.0002
        assert fees["USDT"]["withdraw"]["fee"] is None  # no fee given: none reported, never a made-up one


def test_the_depth_stream_splices_into_the_same_deep_book() -> None:
    with venue() as sim, MarketStreams(sim) as streams:
        async def scenario() -> dict:
            client = make_exchange(VenueConfig(exchange="binance", api_url=sim.url, ws_url=streams.url,
                                               options={"fetchMargins": False}), pro=True)
            try:
                await client.load_markets()
                watch = asyncio.ensure_future(client.watch_order_book("BTC/USDT"))
                for _ in range(200):  # the price moves bar by bar: levels come and go by diff events
                    await asyncio.sleep(0.02)
                    sim.advance(by=15_000)
                    if watch.done():
                        break
                await asyncio.wait_for(watch, 10)
                for _ in range(10):
                    sim.advance(by=60_000)
                    await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 10)
                await asyncio.sleep(0.3)
                return {"bids": [list(x[:2]) for x in client.orderbooks["BTC/USDT"]["bids"]],
                        "asks": [list(x[:2]) for x in client.orderbooks["BTC/USDT"]["asks"]]}
            finally:
                await client.close()

        streamed = asyncio.run(scenario())
        bids, asks = expected(sim)
        assert [Decimal(repr(p)) for p, _ in streamed["bids"]] == bids  # old levels were zeroed, none left over
        assert [Decimal(repr(p)) for p, _ in streamed["asks"]] == asks


def test_an_implied_cross_is_the_ratio_of_its_legs() -> None:
    frames = {"BTC/USDT": candles(50), "ETH/USDT": candles(50, symbol="ETH/USDT", seed=3)}
    cross = implied_cross("ETH/BTC", frames)
    row, eth, btc = cross.row(7, named=True), frames["ETH/USDT"].row(7, named=True), frames["BTC/USDT"].row(7, named=True)
    assert row["open"] == eth["open"] / btc["open"] and row["close"] == eth["close"] / btc["close"]
    assert row["low"] <= min(row["open"], row["close"]) and row["high"] >= max(row["open"], row["close"])
    frames["ETH/BTC"] = cross
    spec = cross_spec("ETH/BTC", frames)
    assert spec.step_size < 1  # ETH in ETH's own steps, not a whole ETH as a 0.05 price would suggest


@pytest.mark.parametrize(("args", "message"), [
    (["--price-offset-bps", "abc"], "--price-offset-bps 'abc' is not BPS or SYMBOL=BPS"),
    (["--book-levels", "0"], "book levels 0 must be at least 1"),
    (["--cross", "ETH/BTC", "--symbol", "BTC/USDT"], "--cross ETH/BTC needs ETH/X and BTC/X"),
    (["--withdraw-fee", "BTC"], "--withdraw-fee 'BTC' is not ASSET=FEE"),
])
def test_venue_serve_refuses_bad_book_options_in_one_line(args: list[str], message: str) -> None:
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=2, days=1)
    result = CliRunner().invoke(app, ["venue", "serve", "--port", "0", "--duration-s", "0.1", *args],
                                env={"COLUMNS": "300"})
    assert result.exit_code != 0 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
