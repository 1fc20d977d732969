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
            assert (
                "quantdesk venue add sim --exchange binance --api-url " + info["url"]
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
