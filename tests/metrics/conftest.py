"""Fixtures for the metrics tests: a fresh in-memory registry, a simulated venue the CLI trades on."""

from __future__ import annotations

import shutil
import socket
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from quantdesk.core import ManualClock
from quantdesk.venue import SimulatedVenue

KEY = "MetricsCanaryKey4c7e1a9d3b6f0e2a5c8d1b4e7a0c3f6b9d2e5a8c1f4b7d0e3a6c9f2b5"
SECRET = "MetricsCanarySecret8b1e4a7d0c3f6b9e2a5d8c1f4b7e0a3d6c9f2b5e8a1d4c7f0a3b6"
START = datetime(2024, 1, 1, tzinfo=UTC)
PASSWORD = "tina-passphrase"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    """This process's metrics start at zero for the test (other tests in the worker recorded before)."""
    from quantdesk.metrics import reset_for_tests

    reset_for_tests()
    yield
    reset_for_tests()


def bars(n: int = 120) -> pl.DataFrame:
    ts = [START + timedelta(minutes=i) for i in range(n)]
    close = [100.0 + (i % 10) * 0.5 for i in range(n)]
    return pl.DataFrame(
        {"ts": ts, "open": close, "high": [c + 1 for c in close], "low": [c - 1 for c in close],
         "close": close, "volume": [1000.0] * n}
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@pytest.fixture
def venue(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedVenue]:
    """A simulated venue configured as `sim`, a trading admin `tina`, and max_qty_per_order = 1."""
    with SimulatedVenue({"BTC/USDT": bars()}, clock=ManualClock(START + timedelta(minutes=60)),
                        api_key=KEY, api_secret=SECRET) as v:
        from quantdesk.identity import add_user
        from quantdesk.ledger import Ledger

        with Ledger() as ledger:
            add_user(ledger, "tina", "admin", actor="tina", password=PASSWORD)
        monkeypatch.setenv("QUANTDESK_USER", "tina")
        monkeypatch.setenv("QD_METRICS_KEY", KEY)
        monkeypatch.setenv("QD_METRICS_SECRET", SECRET)
        (quantdesk_home / "quantdesk.toml").write_text(f"""
[venues.sim]
exchange = "binance"
api_url = "{v.url}"
key_env = "QD_METRICS_KEY"
secret_env = "QD_METRICS_SECRET"

[risk.default]
max_qty_per_order = 1
""")
        yield v


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def need(tool: str) -> str:
    """Return the path of Debian prometheus' `tool`, or skip saying how to get it."""
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed: apt-get install prometheus (.ci/run does it)")
    return path


def dashboards_on_path() -> None:
    if str(REPO / "dashboards") not in sys.path:
        sys.path.insert(0, str(REPO / "dashboards"))
