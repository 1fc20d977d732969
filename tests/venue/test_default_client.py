"""A plain `ccxt.binance({"apiKey", "secret"})`, with no options set, works against the venue (issue 9).

A client that holds keys loads margin pairs, isolated margin pairs, the currency
configuration and the futures families' exchangeInfo; the venue must answer each in
Binance's shape, or every `--venue` command fails at its first request.
"""

from __future__ import annotations

import ccxt

from quantdesk.ingest.exchange import rewrite_api_urls
from quantdesk.venue import SimulatedVenue


def _plain_client(venue: SimulatedVenue) -> ccxt.binance:
    client = ccxt.binance({"apiKey": venue.api_key, "secret": venue.api.api_secret})
    client.urls["api"] = rewrite_api_urls(client.urls["api"], venue.url)
    return client


def test_a_default_configured_binance_client_trades_end_to_end(venue: SimulatedVenue) -> None:
    client = _plain_client(venue)
    try:
        markets = client.load_markets()
        assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
        assert client.fetch_balance()["USDT"]["free"] > 0
        assert client.currencies["BTC"]["id"] == "BTC"
        order = client.create_order("BTC/USDT", "market", "buy", 0.01)
        assert order["status"] == "closed" and order["filled"] == 0.01
        assert client.fetch_open_orders("BTC/USDT") == []
        assert client.fetch_order(order["id"], "BTC/USDT")["filled"] == 0.01
        assert [t["order"] for t in client.fetch_my_trades("BTC/USDT")] == [order["id"]]
    finally:
        client.session.close()
    served = venue.request_counts()
    for path in ("GET /sapi/v1/margin/allPairs", "GET /sapi/v1/margin/isolated/allPairs",
                 "GET /sapi/v1/capital/config/getall", "GET /fapi/v1/exchangeInfo", "GET /dapi/v1/exchangeInfo"):
        assert served[path] >= 1, f"{path} was not requested: {dict(served)}"
    assert not [r for r in venue.request_log if r.status >= 400], "every request was answered"
