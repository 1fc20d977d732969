"""Each switchable fault reaches the real ccxt client as the right exception."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import ccxt
import pytest

from quantdesk.venue import FaultKind, binance_client

pytestmark = pytest.mark.integration


def test_rate_limit_is_429_with_retry_after_and_maps_to_ddos_protection(venue, exchange) -> None:
    venue.inject(FaultKind.RATE_LIMIT, endpoint="klines", retry_after_s=7)
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(f"{venue.url}/api/v3/klines?symbol=BTCUSDT&interval=1m", timeout=5)
    assert raw.value.code == 429 and raw.value.headers["Retry-After"] == "7"
    assert json.loads(raw.value.read())["code"] == -1003
    raw.value.close()
    venue.inject(FaultKind.RATE_LIMIT, endpoint="klines")
    with pytest.raises(ccxt.DDoSProtection):
        exchange.fetch_ohlcv("BTC/USDT", "1m")
    assert len(exchange.fetch_ohlcv("BTC/USDT", "1m", limit=3)) == 3  # one shot only


def test_ip_ban_is_418_with_retry_after(venue, exchange) -> None:
    venue.inject(FaultKind.IP_BAN, retry_after_s=120)
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        exchange.fetch_ticker("BTC/USDT")
    assert venue.request_log[-1].status == 418


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_map_to_exchange_not_available(venue, exchange, status: int) -> None:
    venue.inject(FaultKind.SERVER_ERROR, endpoint="exchangeInfo", status=status)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        exchange.load_markets()


def test_timeout_maps_to_request_timeout(venue) -> None:
    client = binance_client(venue, timeout_ms=200)
    venue.inject(FaultKind.TIMEOUT, endpoint="klines", delay_s=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        client.fetch_ohlcv("BTC/USDT", "1m")
    assert venue.request_log[-1].status == 0
    client.session.close()


def test_malformed_payload_reaches_ccxt_as_garbage_not_as_an_error(venue, exchange) -> None:
    # ccxt 4.5 does not raise on an unparsable 200 body: it parses the raw text as if it
    # were the payload. Callers (ingest, brokers) must validate what they get back.
    exchange.load_markets()
    venue.inject(FaultKind.MALFORMED, endpoint="klines")
    rows = exchange.fetch_ohlcv("BTC/USDT", "1m")
    assert rows and all(value is None for row in rows for value in row)
    venue.inject(FaultKind.MALFORMED, endpoint="ticker/24hr")
    ticker = exchange.fetch_ticker("BTC/USDT")
    assert ticker["last"] is None and isinstance(ticker["info"], str)


def test_next_n_requests_to_one_endpoint_only(venue, exchange) -> None:
    exchange.load_markets()
    venue.inject(FaultKind.SERVER_ERROR, endpoint="klines", times=2)
    assert exchange.fetch_ticker("BTC/USDT")["last"] > 0  # other endpoints unaffected
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            exchange.fetch_ohlcv("BTC/USDT", "1m")
    assert exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    assert venue.faults.pending() == []
    assert venue.request_count("klines") == 3
    assert [r.fault for r in venue.request_log if r.path.endswith("klines")] == [
        FaultKind.SERVER_ERROR,
        FaultKind.SERVER_ERROR,
        None,
    ]


def test_admin_endpoint_arms_faults_and_reports_counts(venue, exchange) -> None:
    body = json.dumps(
        {"kind": "rate_limit", "endpoint": "ticker/24hr", "retry_after_s": 3}
    ).encode()
    request = urllib.request.Request(f"{venue.url}/_admin/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
    with pytest.raises(ccxt.DDoSProtection):
        exchange.fetch_ticker("BTC/USDT")
    with urllib.request.urlopen(f"{venue.url}/_admin/requests", timeout=5) as answer:
        counts = json.loads(answer.read())
    assert counts["GET /api/v3/ticker/24hr"] == 1
    bad = urllib.request.Request(
        f"{venue.url}/_admin/faults", data=b'{"kind": "nope"}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=5)
    assert refused.value.code == 400
    refused.value.close()


def test_fault_needs_at_least_one_shot() -> None:
    from quantdesk.venue import Fault

    with pytest.raises(ValueError, match="times"):
        Fault(kind=FaultKind.TIMEOUT, times=0)
    with pytest.raises(ValueError, match="5xx"):
        Fault(kind=FaultKind.SERVER_ERROR, status=404)
