"""`quantdesk venue serve` as an operator runs it: a subprocess, lake candles, the real ccxt client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.lake import Lake
from quantdesk.venue import TEST_API_SECRET, binance_client
from tests.venue.conftest import MINUTE_MS, START_MS, make_candles

pytestmark = pytest.mark.integration


def test_help_shows_defaults_and_an_example() -> None:
    result = CliRunner().invoke(app, ["venue", "serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for text in (
        "Example: quantdesk venue serve",
        "8899",
        "127.0.0.1",
        "synthetic",
        "quantdesk-sim-key",
    ):
        assert text in result.output


def test_empty_lake_is_a_one_line_error(quantdesk_home: Path) -> None:
    result = CliRunner().invoke(app, ["venue", "serve", "--port", "0", "--duration-s", "0"])
    assert result.exit_code != 0
    assert "quantdesk sample" in result.output
    assert "Traceback" not in result.output


def _read_json_document(stream) -> dict:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError(f"no JSON document on stdout: {''.join(lines)!r}")


def test_serve_replays_lake_candles_for_the_real_client(quantdesk_home: Path) -> None:
    Lake().write(make_candles(600), exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    start_ms = START_MS + 500 * MINUTE_MS
    secret = "canary-secret-do-not-print"
    env = {**os.environ, "QUANTDESK_SIM_API_SECRET": secret}
    command = [
        sys.executable,
        "-c",
        "from quantdesk.cli import main; main()",
        "venue",
        "serve",
        "--port",
        "0",
        "--speed",
        "0",
        "--json",
        "--duration-s",
        "60",
        "--start",
        "2024-01-01T08:20:00",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            info = _read_json_document(proc.stdout)
            assert info["url"].startswith("http://127.0.0.1:") and info["symbols"] == ["BTC/USDT"]
            assert (
                "test_credentials" not in info
            )  # a secret that is not the test one is never printed
            assert info["ws_url"].startswith("ws://127.0.0.1:") and info["ws_url"].endswith("/stream")
            assert (
                "quantdesk venue add sim --exchange binance --api-url " + info["url"] + " --ws-url " + info["ws_url"]
                in info["add_venue"]
            )
            client = binance_client(info["url"], api_key="quantdesk-sim-key", api_secret=secret)
            rows = client.fetch_ohlcv("BTC/USDT", "1m", since=START_MS, limit=1000)
            assert rows[-1][0] == start_ms and len(rows) == 501
            request = urllib.request.Request(
                info["url"] + "/_admin/advance",
                data=json.dumps({"by_ms": 5 * MINUTE_MS}).encode(),
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert json.loads(answer.read())["now_ms"] == start_ms + 5 * MINUTE_MS
            order = client.create_order("BTC/USDT", "market", "buy", 0.01)
            assert order["status"] == "closed"
            client.session.close()
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=20)
    assert secret not in out + err
    assert TEST_API_SECRET not in out + err


def test_serve_serves_the_websocket_streams_that_ccxt_pro_uses(quantdesk_home: Path) -> None:
    """The real ccxt pro client on the served venue: a kline stream, and the signed user data stream
    with the secret the operator passed (before issue 24 the served venue answered 404 on /ws/0)."""
    import asyncio

    from quantdesk.core.settings import VenueConfig
    from quantdesk.ingest import make_exchange

    Lake().write(make_candles(600), exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    secret = "canary-secret-streams"
    env = {**os.environ, "QUANTDESK_SIM_API_SECRET": secret}
    command = [sys.executable, "-c", "from quantdesk.cli import main; main()", "venue", "serve", "--port", "0",
               "--speed", "60", "--json", "--duration-s", "120", "--start", "2024-01-01T08:20:00"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            info = _read_json_document(proc.stdout)
            config = VenueConfig(exchange="binance", api_url=info["url"], ws_url=info["ws_url"],
                                 options={"defaultType": "spot", "fetchCurrencies": False, "fetchMargins": False})

            async def scenario() -> tuple[list[list[float]], list[dict]]:
                exchange = make_exchange(config, pro=True, credentials=("quantdesk-sim-key", secret))
                try:
                    await exchange.load_markets()
                    bars = await asyncio.wait_for(exchange.watch_ohlcv("BTC/USDT", "1m"), 30)
                    watching = asyncio.ensure_future(exchange.watch_orders("BTC/USDT"))
                    await asyncio.sleep(0.5)  # subscribed (signed) before the order
                    await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "s-1"})
                    orders = await asyncio.wait_for(watching, 30)
                    return [list(b) for b in bars], [dict(o) for o in orders]
                finally:
                    await exchange.close()

            bars, orders = asyncio.run(scenario())
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=20)
    assert bars and all(row[0] % MINUTE_MS == 0 and row[0] >= START_MS + 500 * MINUTE_MS for row in bars)
    assert orders[0]["clientOrderId"] == "s-1"
    assert secret not in out + err


def test_a_taken_stream_port_is_a_one_line_error(quantdesk_home: Path) -> None:
    import socket

    Lake().write(make_candles(100), exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["venue", "serve", "--port", "0", "--ws-port", str(port),
                                          "--duration-s", "0"])
    assert result.exit_code != 0
    assert "--ws-port" in result.output and "Traceback" not in result.output
