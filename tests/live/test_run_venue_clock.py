"""Live, offline, from the CLI: a paper deployment on `quantdesk venue serve --speed 60` trades bar by bar
with `quantdesk run NAME --venue-clock` (issue 24), where the wall clock finds every bar stale.

Everything runs as an operator types it: the venue and the runner are `quantdesk` processes,
the venue is added with `quantdesk venue add`, and the ledger is read afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import candles, make_deployment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))


def _read_json_document(stream: Any) -> dict[str, Any]:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError(f"no JSON document on stdout: {''.join(lines)!r}")


def _quantdesk(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUANTDESK, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "COLUMNS": "200", "QUANTDESK_USER": "ops"})  # a registered admin


@pytest.fixture
def served(quantdesk_home: Path, flip_strategy: str) -> Iterator[dict[str, Any]]:
    """A 1m paper deployment on venue `sim`, served at 60x from bar 200 of gap-free candles."""
    from quantdesk.identity import add_user
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger

    frame = candles(900)
    Lake().write(frame, exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    with Ledger() as ledger:
        add_user(ledger, "ops", "admin", actor="ops", password="ops-passphrase")
        # level 0.05: each order is 5% of equity, inside conservative default limits
        make_deployment(ledger, "flip-sim", strategy=flip_strategy, venue="sim", exchange="synthetic",
                        params={"period": 1, "level": 0.05})
    start = frame["ts"][200]
    serve = subprocess.Popen([QUANTDESK, "venue", "serve", "--port", "0", "--speed", "60", "--symbol", "BTC/USDT",
                              "--start", start.isoformat(), "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        info = _read_json_document(serve.stdout)
        added = _quantdesk("venue", "add", "sim", "--exchange", "binance", "--api-url", info["url"],
                           "--ws-url", info["ws_url"])
        assert added.returncode == 0, added.stderr
        yield {"info": info, "start": start, "end": frame["ts"][-1]}
    finally:
        serve.terminate()
        serve.communicate(timeout=30)


def test_run_with_the_venue_clock_trades_each_bar_on_the_venues_market_time(served: dict[str, Any]) -> None:
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import get_deployment

    done = _quantdesk("run", "flip-sim", "--venue-clock", "--bars", "6", "--json")
    assert done.returncode == 0, done.stderr
    bars = json.loads(done.stdout)["bars"]
    assert len(bars) == 6
    assert all(b["ok"] for b in bars), [b["detail"] for b in bars if not b["ok"]]
    start, end = served["start"], served["end"]
    assert all(start <= datetime.fromisoformat(b["bar_ts"]) <= end for b in bars)  # market time, not 2026
    sent = [o for b in bars for o in b["orders"]]
    assert sent and all(o["approved"] and o["status"] == "filled" for o in sent)
    with Ledger() as ledger:
        fills = ledger.fills(deployment="flip-sim")
        assert len(fills) == len(sent)
        assert all(start <= f.ts <= end for f in fills)
        deployment = get_deployment(ledger, "flip-sim")
        assert deployment.state.value == "stopped" and deployment.last_bar_ts == datetime.fromisoformat(bars[-1]["bar_ts"])


def test_without_the_venue_clock_the_wall_clock_finds_no_bar(served: dict[str, Any]) -> None:
    """What issue 24 found: the runner asks for the bar at the wall clock, years after the venue's market."""
    done = _quantdesk("run", "flip-sim", "--once")
    assert done.returncode == 0, done.stderr
    bar, hint = done.stdout.splitlines()
    assert "no orders: RUNNER_STALE_DATA" in bar
    assert int(bar[:4]) >= datetime.now(UTC).year  # the wall clock's bar, years after the venue's market
    assert "run with --venue-clock" in hint  # the fix, said where the problem shows


def test_the_venue_clock_needs_a_venue(quantdesk_home: Path, flip_strategy: str) -> None:
    from quantdesk.identity import add_user
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        add_user(ledger, "ops", "admin", actor="ops", password="ops-passphrase")
        make_deployment(ledger, "flip-paper", strategy=flip_strategy)
    done = _quantdesk("run", "flip-paper", "--venue-clock", "--bars", "1")
    assert done.returncode != 0
    assert "venue 'paper'" in done.stderr and "--venue-clock" in done.stderr and "Traceback" not in done.stderr
