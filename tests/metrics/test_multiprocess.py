"""Two runner processes and a CLI order record into one directory; `quantdesk metrics serve` merges them.

A process that exits leaves its counters in the sum (the orders it sent stay counted), and its
live gauges go (a stopped runner holds no equity or position any more).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.auth import TEST_API_KEY, TEST_API_SECRET
from tests.live.conftest import FLIP_SOURCE, candles, make_deployment

from .conftest import free_port, scrape

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


def has(found: Samples, name: str, **labels: str) -> bool:
    want = set(labels.items())
    return any(n == name and want <= ls for n, ls in found)


def wait_for(url: str, ready: Callable[[Samples], bool], what: str) -> Samples:
    """Scrape until `ready` holds (a deadline only against a hang: processes start slowly on 2 cores)."""
    deadline, found = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        try:
            found = parse(scrape(url))
        except OSError:
            found = {}
        if ready(found):
            return found
        time.sleep(0.5)
    raise AssertionError(f"the merged scrape never showed {what}; last: {sorted(k[0] for k in found)}")


def reported_orders(out: str) -> int:
    return sum(len(b["orders"]) for b in json.loads(out)["bars"])


def test_runners_and_a_cli_order_share_one_merged_scrape(quantdesk_home: Path, tmp_path: Path) -> None:
    frame = candles(900)
    Lake().write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    flip = tmp_path / "flip.py"
    flip.write_text(FLIP_SOURCE)
    with Ledger() as ledger:
        for name in ("flip-a", "flip-b"):
            make_deployment(ledger, name, strategy=f"{flip}:Flip", params={"period": 1})
    start_ms = int(frame["ts"][300].timestamp() * 1000) + 30_000
    env = {**os.environ, "QUANTDESK_USER": "ops", "NO_COLOR": "1", "QD_SIM_KEY": TEST_API_KEY,
           "QD_SIM_SECRET": TEST_API_SECRET, "QUANTDESK_CLOCK": f"scaled:{start_ms}:{int(time.time() * 1000)}:60"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each process takes $QUANTDESK_HOME/metrics itself

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([QUANTDESK, *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=120, check=False)

    # a file a dead process left before the exporter started: its start-up removes it
    stale = quantdesk_home / "metrics" / "counter_999999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    assert cli("user", "add", "ops", "--role", "admin", "--password-stdin", stdin="ops-pass\n").returncode == 0
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    processes: list[subprocess.Popen[str]] = []
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start_ms)) as venue:
        (quantdesk_home / "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\nkey_env = "QD_SIM_KEY"\n'
            'secret_env = "QD_SIM_SECRET"\n')
        try:
            exporter = subprocess.Popen([QUANTDESK, "metrics", "serve", "--port", str(port)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            processes.append(exporter)
            runner_port = free_port()  # flip-b also serves the merged view itself (`run --metrics-port`)
            extra = {"flip-a": [], "flip-b": ["--metrics-port", str(runner_port)]}
            runners = {name: subprocess.Popen([QUANTDESK, "run", name, "--json", *extra[name]], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                       for name in ("flip-a", "flip-b")}
            processes += runners.values()
            wait_for(url, lambda f: all(has(f, "quantdesk_equity", deployment=n) for n in runners)
                     and total(f, "quantdesk_decision_seconds_count") >= 2, "both runners' equity and orders")
            assert not stale.exists(), "the exporter's start-up must remove what dead processes left"
            from_runner = parse(scrape(f"http://127.0.0.1:{runner_port}/metrics"))
            assert all(has(from_runner, "quantdesk_equity", deployment=n) for n in runners)
            order = cli("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.01",
                        "--password-stdin", "--json", stdin="ops-pass\n")
            assert order.returncode == 0, order.stderr

            # the CLI process has exited: its order stays counted beside the runners' recordings
            found = wait_for(url, lambda f: total(f, "quantdesk_orders_total", venue="sim") == 1, "the CLI's order")
            assert total(found, "quantdesk_orders_total", venue="sim", outcome="filled", side="buy") == 1
            assert has(found, "quantdesk_candle_age_seconds", exchange="paper", symbol="BTC/USDT", timeframe="1m")
            assert has(found, "quantdesk_position_notional", deployment="flip-a", symbol="BTC/USDT")

            # one runner stops: its live gauges go, the other's stay
            runners["flip-a"].send_signal(signal.SIGTERM)
            out_a, err_a = runners["flip-a"].communicate(timeout=120)
            assert runners["flip-a"].returncode == 0, err_a[-4000:]
            found = parse(scrape(url))
            assert not has(found, "quantdesk_equity", deployment="flip-a")
            assert not has(found, "quantdesk_position_notional", deployment="flip-a")
            assert has(found, "quantdesk_equity", deployment="flip-b")
            assert total(found, "quantdesk_decision_seconds_count", deployment="flip-a") == reported_orders(out_a)

            runners["flip-b"].send_signal(signal.SIGTERM)
            out_b, err_b = runners["flip-b"].communicate(timeout=120)
            assert runners["flip-b"].returncode == 0, err_b[-4000:]
            found = parse(scrape(url))
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                process.communicate(timeout=60)
    # every order either runner handed to the gate is counted, after both exited; no live gauge is left
    assert total(found, "quantdesk_orders_total", venue="paper") == reported_orders(out_a) + reported_orders(out_b)
    assert total(found, "quantdesk_decision_seconds_count", deployment="flip-b") == reported_orders(out_b)
    assert reported_orders(out_a) >= 1 and reported_orders(out_b) >= 1
    assert not has(found, "quantdesk_equity") and not has(found, "quantdesk_candle_age_seconds")
    assert total(found, "quantdesk_orders_total", venue="sim") == 1
