"""The order lifecycle and its errors through the real, signed ccxt.binance client."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from quantdesk.venue import FaultKind, FillPolicy, binance_client
from tests.venue.conftest import MINUTE_MS

pytestmark = pytest.mark.integration


def _bar(candles, symbol: str, index: int) -> dict:
    return candles[symbol].row(index, named=True)


def test_wrong_secret_or_key_is_an_authentication_error(venue) -> None:
    for kwargs in ({"api_secret": "not-the-secret"}, {"api_key": "someone-else"}):
        client = binance_client(venue, **kwargs)
        with pytest.raises(ccxt.AuthenticationError):
            client.fetch_balance()
        client.session.close()
    # A client with keys signs its first private request while loading markets (currency
    # configuration); that is where a wrong secret (400, -1022) or key (401, -2015) stops it.
    assert [r.status for r in venue.request_log if r.status >= 400] == [400, 401]


def test_clock_skew_is_invalid_nonce(venue, exchange) -> None:
    exchange.options["timeDifference"] = 120_000  # ccxt signs 2 minutes in the past
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    exchange.options["timeDifference"] = 0
    venue.inject(FaultKind.TIMESTAMP_SKEW, endpoint="account")
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    assert exchange.fetch_balance()["USDT"]["free"] == 100_000


def test_a_client_on_the_venues_time_difference_signs_on_the_market_clock_and_is_accepted(venue, exchange) -> None:
    """ccxt's load_time_difference (what the ccxt broker does after -1021) follows the server time,
    here the market clock: the venue takes timestamps fresh on it as well as on the wall clock."""
    exchange.load_time_difference()
    assert abs(exchange.options["timeDifference"] - (exchange.milliseconds() - venue.clock.now_ms())) < 60_000
    assert exchange.fetch_balance()["USDT"]["free"] == 100_000
    venue.advance(by=3_600_000)  # the market clock moved on an hour: a stale difference is refused ...
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    exchange.options["timeDifference"] = 0  # ... and the wall clock is always good
    assert exchange.fetch_balance()["USDT"]["free"] == 100_000


def test_market_order_lifecycle(venue, exchange, candles) -> None:
    order = exchange.create_order("BTC/USDT", "market", "buy", 0.5, params={"clientOrderId": "m-1"})
    price = round(_bar(candles, "BTC/USDT", 1000)["open"], 2)
    assert order["status"] == "closed" and order["filled"] == 0.5
    assert order["average"] == pytest.approx(price)
    assert order["clientOrderId"] == "m-1"
    assert order["fee"]["cost"] == pytest.approx(price * 0.5 * 0.001, abs=1e-8)
    found = exchange.fetch_order(None, "BTC/USDT", params={"clientOrderId": "m-1"})
    assert found["id"] == order["id"] and found["status"] == "closed"
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [t["order"] for t in trades] == [order["id"]]
    balance = exchange.fetch_balance()
    assert balance["BTC"]["free"] == 0.5
    assert balance["USDT"]["free"] == pytest.approx(100_000 - price * 0.5 * 1.001, abs=1e-6)
    sold = exchange.create_order("BTC/USDT", "market", "sell", 0.5)
    assert sold["status"] == "closed"
    assert exchange.fetch_balance()["BTC"]["free"] == 0.0


def test_limit_order_rests_fills_when_a_later_bar_crosses_and_can_be_canceled(
    venue, exchange, candles
) -> None:
    now = _bar(candles, "BTC/USDT", 1000)
    later = [_bar(candles, "BTC/USDT", i) for i in range(1000, 1200)]
    target = next(i for i, b in enumerate(later) if b["low"] < now["open"] * 0.997)
    price = round(now["open"] * 0.997, 2)
    order = exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.1, price, params={"clientOrderId": "lim-1"}
    )
    assert order["status"] == "open" and order["filled"] == 0
    assert exchange.fetch_balance()["USDT"]["used"] == pytest.approx(price * 0.1 * 1.001)
    other = exchange.create_order("BTC/USDT", "limit", "buy", 0.1, round(now["open"] * 0.5, 2))
    assert {o["id"] for o in exchange.fetch_open_orders("BTC/USDT")} == {order["id"], other["id"]}
    venue.advance(by=target * MINUTE_MS)  # the crossing bar has not closed yet
    assert exchange.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    venue.advance(by=MINUTE_MS)
    filled = exchange.fetch_order(None, "BTC/USDT", params={"clientOrderId": "lim-1"})
    assert filled["status"] == "closed" and filled["average"] <= price
    canceled = exchange.cancel_order(other["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert exchange.fetch_balance()["USDT"]["used"] == 0
    assert {o["status"] for o in exchange.fetch_orders("BTC/USDT")} == {"closed", "canceled"}


def test_errors_map_to_ccxt_exceptions(venue, exchange) -> None:
    exchange.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "market", "buy", 100)
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("ETH/USDT", "market", "sell", 1)
    venue.inject(FaultKind.INSUFFICIENT_BALANCE, endpoint="order", method="POST")
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order("424242", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order("424242", "BTC/USDT")
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    # raw signed requests, past ccxt's own rounding, so the venue's filters answer
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        exchange.private_post_order({**base, "quantity": "0.000001", "price": "30000"})
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        exchange.private_post_order({**base, "quantity": "0.001", "price": "30000.001"})
    with pytest.raises(
        ccxt.BadRequest, match="NOTIONAL"
    ):  # ccxt maps Binance's -1013 to BadRequest
        exchange.private_post_order({**base, "quantity": "0.0001", "price": "30000"})
    exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, params={"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):
        exchange.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 1000, params={"clientOrderId": "dup"}
        )
    assert len(venue.orders()) == 1
    assert venue.internal_errors == []


def test_accept_then_timeout_leaves_exactly_one_order_findable(venue) -> None:
    client = binance_client(venue, timeout_ms=300)
    client.load_markets()
    venue.inject(FaultKind.ACCEPT_THEN_TIMEOUT, endpoint="order", method="POST", delay_s=1.5)
    with pytest.raises(ccxt.RequestTimeout):
        client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "intent-7"})
    found = client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "intent-7"})
    assert found["status"] == "closed" and found["filled"] == 0.01
    assert [o.client_order_id for o in venue.orders()] == ["intent-7"]
    client.session.close()


def test_drop_before_accept_creates_nothing(venue) -> None:
    client = binance_client(venue, timeout_ms=300)
    client.load_markets()
    venue.inject(FaultKind.TIMEOUT, endpoint="order", method="POST", delay_s=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "intent-8"})
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "intent-8"})
    assert venue.orders() == []
    client.session.close()


def test_partial_fills_a_fraction_per_bar(venue, exchange, candles) -> None:
    venue.set_fill_policy(FillPolicy(fraction_per_bar=0.25))
    start = _bar(candles, "ETH/USDT", 1000)
    exchange.load_markets()
    # a buy far above the price crosses every bar: a quarter on arrival, a quarter per closed bar
    buy = exchange.create_order("ETH/USDT", "limit", "buy", 0.4, round(start["open"] * 1.2, 2))
    assert buy["status"] == "open" and buy["filled"] == pytest.approx(0.1)
    venue.advance(by=MINUTE_MS)  # bar 1000 was used on arrival; bar 1001 has just opened
    assert exchange.fetch_order(buy["id"], "ETH/USDT")["filled"] == pytest.approx(0.1)
    venue.advance(by=MINUTE_MS)  # bar 1001 closed
    mid = exchange.fetch_order(buy["id"], "ETH/USDT")
    assert mid["status"] == "open" and mid["filled"] == pytest.approx(0.2)
    venue.advance(by=MINUTE_MS * 5)
    done = exchange.fetch_order(buy["id"], "ETH/USDT")
    assert done["status"] == "closed" and done["filled"] == pytest.approx(0.4)
    fills = [t for t in exchange.fetch_my_trades("ETH/USDT") if t["order"] == buy["id"]]
    assert len(fills) == 4 and sum(Decimal(str(t["amount"])) for t in fills) == Decimal("0.4")
    assert all(t["price"] <= round(start["open"] * 1.2, 2) for t in fills)
    assert exchange.fetch_balance()["ETH"]["free"] == pytest.approx(0.4)


def test_volume_cap_limits_each_bar(venue, exchange, candles) -> None:
    venue.set_fill_policy(FillPolicy(max_volume_fraction=0.01))
    exchange.load_markets()
    start = _bar(candles, "ETH/USDT", 1000)
    buy = exchange.create_order("ETH/USDT", "limit", "buy", 5.0, round(start["open"] * 1.2, 2))
    venue.advance(by=MINUTE_MS * 3)
    got = [t.qty for t in venue.trades("ETH/USDT")]
    caps = [
        Decimal(repr(_bar(candles, "ETH/USDT", i)["volume"])) * Decimal("0.01")
        for i in (1000, 1001, 1002)
    ]
    assert got == [cap.quantize(Decimal("0.0001"), "ROUND_DOWN") for cap in caps]
    assert exchange.fetch_order(buy["id"], "ETH/USDT")["status"] == "open"
