"""An empty candle page is an answer, not an error; a body that is not JSON still is (issue 9).

A tiny Binance-shaped HTTP server, written here, serves klines with the paging rule each
test chooses; the real ccxt client (built by `make_exchange`) talks to it over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import ingest, make_exchange
from quantdesk.lake import Lake
from quantdesk.venue.market import MarketSpec
from quantdesk.venue.payloads import market_info

T0_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
SPEC = MarketSpec(symbol="BTC/USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"))

Klines = Callable[[int | None, int], str]  # (startTime or None, limit) -> response body


def _row(ms: int) -> list[object]:
    price = 100.0 + (ms - T0_MS) / MINUTE / 100
    return [ms, f"{price:.2f}", f"{price + 1:.2f}", f"{price - 1:.2f}", f"{price:.2f}", "1.0", ms + MINUTE - 1,
            "100.0", 1, "0.5", "50.0", "0"]


def _bars(minutes: list[int]) -> list[int]:
    return [T0_MS + m * MINUTE for m in minutes]


def binance_rule(stored: list[int]) -> Klines:
    """Binance's rule: the first `limit` candles at or after startTime; no startTime: the newest."""
    def answer(start: int | None, limit: int) -> str:
        rows = stored[-limit:] if start is None else [t for t in stored if t >= start][:limit]
        return json.dumps([_row(t) for t in rows])
    return answer


def window_rule(stored: list[int]) -> Klines:
    """A window-at-a-time exchange: only candles in [startTime, startTime + limit minutes)."""
    def answer(start: int | None, limit: int) -> str:
        if start is None:
            return json.dumps([_row(t) for t in stored[-limit:]])
        return json.dumps([_row(t) for t in stored if start <= t < start + limit * MINUTE])
    return answer


@pytest.fixture
def serve() -> Iterator[Callable[[Klines], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(klines: Klines) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                if url.path.endswith("/klines"):
                    start_time = query.get("startTime")
                    body = klines(int(start_time) if start_time else None, int(query.get("limit", 500)))
                elif url.path.endswith("/exchangeInfo"):
                    symbols = [market_info(SPEC)] if url.path.startswith("/api/") else []
                    body = json.dumps({"timezone": "UTC", "serverTime": T0_MS, "rateLimits": [],
                                       "exchangeFilters": [], "symbols": symbols})
                else:
                    body = "[]"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _ingest(url: str, minutes: int, lake: Lake, limit_pages: int | None = None) -> object:
    venue = VenueConfig(exchange="binance", api_url=url)
    exchange = make_exchange(venue, rate_limit=False)
    clock = ManualClock(T0_MS + minutes * MINUTE)
    [report] = ingest(exchange, ["BTC/USDT"], "1m", T0_MS, lake=lake, clock=clock, lake_exchange="stub")
    return report


def _stored(lake: Lake) -> list[int]:
    frame = lake.candles("BTC/USDT", "1m", exchange="stub")
    return frame["ts"].dt.epoch("ms").to_list()


def test_an_empty_page_past_the_newest_candle_ends_ingestion_cleanly(serve, quantdesk_home) -> None:
    stored = _bars(list(range(1500)))  # then nothing: a delisted symbol, or `since` past the newest
    lake = Lake()
    _ingest(serve(binance_rule(stored)), 3000, lake)
    assert _stored(lake) == stored


def test_a_quiet_window_is_skipped_and_later_candles_arrive(serve, quantdesk_home) -> None:
    # minutes 0-999, a quiet stretch of 1500 minutes with no trades, then minutes 2500-2999
    stored = _bars(list(range(1000)) + list(range(2500, 3000)))
    lake = Lake()
    _ingest(serve(window_rule(stored)), 3000, lake)
    assert _stored(lake) == stored


def test_a_body_that_is_not_json_fails_loudly_and_keeps_what_was_fetched(serve, quantdesk_home) -> None:
    stored = _bars(list(range(2500)))
    good = binance_rule(stored)

    def broken(start: int | None, limit: int) -> str:
        return "<html>bad gateway</html>" if start is not None and start >= stored[1000] else good(start, limit)

    lake = Lake()
    with pytest.raises(IngestError, match="malformed response.*not JSON"):
        _ingest(serve(broken), 3000, lake)
    assert _stored(lake) == stored[:1000], "the pages before the failure are in the lake"
    assert pl.Series(_stored(lake)).is_sorted()
