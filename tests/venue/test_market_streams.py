"""Trade and depth streams: the real ccxt pro client (`watch_trades`, `watch_order_book`) on the simulated venue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import make_exchange
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.streams import MarketStreams
from tests.live.conftest import candles

pytestmark = pytest.mark.integration


@pytest.fixture
def rig() -> Iterator[tuple[SimulatedVenue, MarketStreams]]:
    frame = candles(400)
    clock = ManualClock(int(frame["ts"][200].timestamp() * 1000) + 30_000)
    with SimulatedVenue({"BTC/USDT": frame}, clock=clock) as venue:
        streams = MarketStreams(venue).start()
        try:
            yield venue, streams
        finally:
            streams.stop()


def _client(venue: SimulatedVenue, streams: MarketStreams):  # noqa: ANN202
    return make_exchange(VenueConfig(exchange="binance", api_url=venue.url, ws_url=streams.url,
                                     options={"defaultType": "spot", "fetchCurrencies": False, "fetchMargins": False}),
                         pro=True)


async def _advance(venue: SimulatedVenue, bars: int) -> None:
    for _ in range(bars):
        await asyncio.sleep(0.05)
        venue.advance(by=60_000)


def test_watch_trades_gives_each_closed_bars_trades_summing_to_its_volume(rig) -> None:  # noqa: ANN001
    venue, streams = rig
    book = venue.engine.books["BTC/USDT"]

    async def scenario() -> list[dict]:
        exchange = _client(venue, streams)
        try:
            await exchange.load_markets()
            seen: list[dict] = []
            first = asyncio.ensure_future(exchange.watch_trades("BTC/USDT"))
            await asyncio.sleep(0.2)  # subscribed before the clock moves
            mover = asyncio.ensure_future(_advance(venue, 6))
            seen += await first
            # ccxt returns what arrived since the previous call with the next message, so the
            # newest bar may be short a print when the clock stops: keep the earlier ones
            while len({t["timestamp"] // 60_000 for t in seen}) < 5:
                seen += await asyncio.wait_for(exchange.watch_trades("BTC/USDT"), 5)
            await mover
            newest = max(t["timestamp"] // 60_000 for t in seen)
            return [t for t in seen if t["timestamp"] // 60_000 < newest]
        finally:
            await exchange.close()

    trades = asyncio.run(scenario())
    by_bar: dict[int, list[dict]] = {}
    for t in trades:
        by_bar.setdefault(t["timestamp"] - t["timestamp"] % 60_000, []).append(t)
    assert len(by_bar) >= 4
    for bar, prints in by_bar.items():
        i = int((bar - book.ts[0]) // 60_000)
        assert len(prints) == 4 and [p["id"] for p in prints] == sorted(p["id"] for p in prints)
        assert prints[0]["price"] == pytest.approx(book.open[i]) and prints[-1]["price"] == pytest.approx(book.close[i])
        assert {round(p["price"], 6) for p in prints[1:3]} == {round(book.high[i], 6), round(book.low[i], 6)}
        assert sum(p["amount"] for p in prints) == pytest.approx(book.volume[i], rel=1e-12)


def test_watch_order_book_splices_the_snapshot_and_follows_the_price(rig) -> None:  # noqa: ANN001
    venue, streams = rig
    tick = float(venue.engine.specs["BTC/USDT"].tick_size)

    async def scenario() -> tuple[dict, dict, float]:
        exchange = _client(venue, streams)
        try:
            await exchange.load_markets()
            watch = asyncio.ensure_future(exchange.watch_order_book("BTC/USDT"))
            await asyncio.sleep(0.3)
            venue.advance(by=60_000)
            first = await asyncio.wait_for(watch, 5)
            first = {"bids": list(first["bids"]), "asks": list(first["asks"])}
            for _ in range(10):  # a watch returns on the next update: move the clock, read, until caught up
                watch = asyncio.ensure_future(exchange.watch_order_book("BTC/USDT"))
                await asyncio.sleep(0.15)
                venue.advance(by=60_000)
                second = await asyncio.wait_for(watch, 5)
                await asyncio.sleep(0.15)
                price = float(venue.engine.current_price("BTC/USDT", venue.clock.now_ms()))
                if second["bids"][0][0] == pytest.approx(price - tick):
                    break
            return first, {"bids": list(second["bids"]), "asks": list(second["asks"])}, price
        finally:
            await exchange.close()

    first, second, price = asyncio.run(scenario())
    assert len(first["bids"]) == len(first["asks"]) == 1
    assert len(second["bids"]) == len(second["asks"]) == 1  # the old level was removed (size 0)
    assert second["bids"][0][0] == pytest.approx(price - tick) and second["asks"][0][0] == pytest.approx(price + tick)
    assert second["bids"][0][0] != first["bids"][0][0]  # the book followed the price


def test_watch_orders_and_my_trades_follow_the_account_through_the_user_data_stream(rig) -> None:  # noqa: ANN001
    from quantdesk.venue.auth import TEST_API_KEY, TEST_API_SECRET

    venue, streams = rig

    async def scenario() -> tuple[list[dict], list[dict], list[dict]]:
        exchange = make_exchange(
            VenueConfig(exchange="binance", api_url=venue.url, ws_url=streams.url,
                        options={"defaultType": "spot", "fetchCurrencies": False, "fetchMargins": False}),
            pro=True, credentials=(TEST_API_KEY, TEST_API_SECRET))
        try:
            await exchange.load_markets()
            orders: list[dict] = []
            trades: list[dict] = []
            watching = asyncio.ensure_future(exchange.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.4)  # subscribed (signed) before anything happens
            mine = asyncio.ensure_future(exchange.watch_my_trades("BTC/USDT"))
            await asyncio.sleep(0.2)
            price = float(venue.engine.current_price("BTC/USDT", venue.clock.now_ms()))
            await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "m-1"})
            resting = await exchange.create_order("BTC/USDT", "limit", "buy", 0.02, round(price * 0.5, 2),
                                                  params={"newClientOrderId": "l-1"})
            first = await asyncio.wait_for(watching, 5)
            trades += await asyncio.wait_for(mine, 5)
            assert first[0]["clientOrderId"] == "m-1"
            # a watch returns on the next message; the ones after it are in the client's caches
            await asyncio.sleep(0.5)
            orders += [dict(o) for o in exchange.orders]  # copies: ccxt updates its cache in place
            cancel = asyncio.ensure_future(exchange.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.1)
            await exchange.cancel_order(resting["id"], "BTC/USDT")
            canceled = await asyncio.wait_for(cancel, 5)
            return orders, trades, canceled
        finally:
            await exchange.close()

    orders, trades, canceled = asyncio.run(scenario())
    final = {o["clientOrderId"]: o for o in orders}
    assert final["m-1"]["status"] == "closed" and final["m-1"]["filled"] == pytest.approx(0.01)
    assert final["l-1"]["status"] == "open" and final["l-1"]["filled"] == 0
    [fill] = trades
    assert fill["order"] == str(final["m-1"]["id"]) and fill["amount"] == pytest.approx(0.01)
    assert fill["fee"]["cost"] > 0  # the venue's fee, reported with the trade
    assert canceled[-1]["clientOrderId"] == "l-1" and canceled[-1]["status"] == "canceled"


def test_the_user_data_stream_refuses_a_bad_signature(rig) -> None:  # noqa: ANN001
    from quantdesk.venue.auth import TEST_API_KEY

    venue, streams = rig

    async def scenario() -> None:
        exchange = make_exchange(
            VenueConfig(exchange="binance", api_url=venue.url, ws_url=streams.url,
                        options={"defaultType": "spot", "fetchCurrencies": False, "fetchMargins": False}),
            pro=True, credentials=(TEST_API_KEY, "not-the-secret"))
        try:
            await exchange.load_markets()
            await asyncio.wait_for(exchange.watch_orders("BTC/USDT"), 5)
        finally:
            await exchange.close()

    with pytest.raises(Exception):  # noqa: B017, PT011 - ccxt's error path varies (AuthenticationError, KeyError)
        asyncio.run(scenario())
    assert streams.user_refusals == [-1022]  # the venue refused the signature; nothing was subscribed
