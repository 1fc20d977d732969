"""Parsing side, offline: stored raw exchange responses fed through the real ccxt clients.

The ccxt-static and ccxt-rs fixtures hold what Binance, Bybit, OKX and Gate really sent.
A replaying transport (a ccxt subclass whose `fetch` returns the stored body) lets the real
parse code and our pager run without a network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.ingest import RetryPolicy, fetch_ohlcv_pages, ingest
from quantdesk.lake import Lake

pytestmark = pytest.mark.realdata

_MARKET_IDS = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT", "gate": "BTC_USDT"}


def _replaying(exchange_id: str, raw: Any) -> tuple[ccxt.Exchange, list[str]]:
    requests: list[str] = []

    def fetch(
        self: ccxt.Exchange, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        requests.append(url)
        self.last_http_response, self.last_json_response = json.dumps(raw), raw
        return raw

    exchange = type("Replay", (getattr(ccxt, exchange_id),), {"fetch": fetch})(
        {"enableRateLimit": False}
    )
    exchange.set_markets([{
        "id": _MARKET_IDS[exchange_id], "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
        "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
        "future": False, "option": False, "contract": False, "linear": None, "inverse": None,
        "active": True, "precision": {}, "limits": {}, "info": {},
    }])  # fmt: skip
    return exchange, requests


def _rs_fixture(shared_data: Path, exchange_id: str) -> dict[str, Any]:
    return json.loads(
        (shared_data / "ccxt-rs-fixtures" / exchange_id / "fetch_ohlcv_BTC_USDT.json").read_text()
    )


@pytest.mark.parametrize("exchange_id", ["binance", "bybit", "okx"])
def test_pager_parses_live_captures(shared_data: Path, exchange_id: str) -> None:
    case = _rs_fixture(shared_data, exchange_id)
    expected = sorted(case["parsed_response"])
    exchange, requests = _replaying(exchange_id, case["http_response"])
    first = expected[0][0]
    pages = list(
        fetch_ohlcv_pages(
            exchange,
            "BTC/USDT",
            "1h",
            since_ms=first,
            until_ms=first + 3 * 3_600_000,
            policy=RetryPolicy(),
        )
    )
    frame = pages[0]
    assert [int(t.timestamp() * 1000) for t in frame["ts"]] == [row[0] for row in expected]
    assert frame.drop("ts").rows() == [tuple(row[1:]) for row in expected]
    assert requests  # it really went through the client's request path


def test_okx_open_candle_is_dropped_by_ingest(shared_data: Path, tmp_path: Path) -> None:
    case = _rs_fixture(shared_data, "okx")
    open_row = next(
        r for r in case["http_response"]["data"] if r[-1] == "0"
    )  # confirm="0": still open
    open_ms = int(open_row[0])
    clock = ManualClock(open_ms + 30 * 60_000)
    exchange, _ = _replaying("okx", case["http_response"])
    lake = Lake(tmp_path / "lake", clock=clock)
    [report] = ingest(exchange, "BTC/USDT", "1h", open_ms - 2 * 3_600_000, lake=lake, clock=clock)
    assert report.fetched == 2
    assert report.last_ts == datetime.fromtimestamp((open_ms - 3_600_000) / 1000, UTC)


@pytest.mark.parametrize("exchange_id", ["binance", "gate"])
def test_static_fetch_ohlcv_cases(shared_data: Path, exchange_id: str) -> None:
    doc = json.loads((shared_data / "ccxt-static" / "response" / f"{exchange_id}.json").read_text())
    [case] = [c for c in doc["methods"]["fetchOHLCV"] if c["input"][0] == "BTC/USDT"]
    symbol, timeframe, since, limit = case["input"][:4]
    exchange, _ = _replaying(exchange_id, case["httpResponse"])
    first = case["parsedResponse"][0][0]
    [page] = list(
        fetch_ohlcv_pages(
            exchange,
            symbol,
            timeframe,
            since_ms=since or first,
            until_ms=first + 10**10,
            policy=RetryPolicy(),
            limit=limit,
        )
    )
    assert [[int(t.timestamp() * 1000), *rest] for t, *rest in page.rows()] == case[
        "parsedResponse"
    ]
