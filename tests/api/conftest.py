"""Fixtures: a ledger with one user per role, tokens of every scope, the API app, a simulated venue."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from quantdesk.api import ApiConfig, create_app
from quantdesk.core import ManualClock
from quantdesk.identity import add_user
from quantdesk.identity.tokens import create_token
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue

START = datetime(2024, 1, 1, tzinfo=UTC)
VENUE_KEY = "ApiVenueKey4d7e1a9c3f6b2e8d5a1c7f3b9e6d2a8c4f1b7e3a9d5c2f8b6e4a1d7c3f9b5e2a8"
VENUE_SECRET = "ApiVenueSecret8e2b5f1a7d4c9e3b6a2f8d5c1e7b4a9f3d6c2e8b5a1f7d4c9e3b6a2f8d5c"
ROLES = {"ada": "admin", "tina": "trader", "theo": "trader", "rhea": "researcher", "vera": "viewer"}
PASSWORD = "correct-horse-battery"  # every test user's
# generous limits: the tests count answers, not the clock
UNLIMITED = ApiConfig(token_rate_per_s=1e6, token_burst=1_000_000, address_rate_per_s=1e6, address_burst=1_000_000)


def candles() -> pl.DataFrame:
    ts = [START + timedelta(minutes=i) for i in range(120)]
    close = [100.0 + (i % 10) * 0.5 for i in range(120)]
    return pl.DataFrame({"ts": ts, "open": close, "high": [c + 1 for c in close], "low": [c - 1 for c in close],
                         "close": close, "volume": [1000.0] * 120}).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@dataclass
class Desk:
    """A ledger with users of every role and a token per (user, scope): tokens["tina"]["trade"]."""

    ledger: Ledger
    tokens: dict[str, dict[str, str]]

    def auth(self, user: str, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user][scope]}"}


@pytest.fixture
def desk(quantdesk_home: Path) -> Iterator[Desk]:
    with Ledger() as ledger:
        for name, role in ROLES.items():
            add_user(ledger, name, role, actor="ada", password=PASSWORD)
        tokens = {name: {scope: create_token(ledger, user=name, scope=scope, expires="30d", actor="ada")[0]
                         for scope in ("read", "trade", "admin")} for name in ROLES}
        yield Desk(ledger=ledger, tokens=tokens)


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the live server (starlette's TestClient would warn: it wants httpx2)."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        yield http


@pytest.fixture
def venue(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedVenue]:
    """A simulated venue at bar 60, configured as venue `sim` (the real ccxt client talks to it over HTTP)."""
    with SimulatedVenue({"BTC/USDT": candles()}, clock=ManualClock(START + timedelta(minutes=60)),
                        api_key=VENUE_KEY, api_secret=VENUE_SECRET) as v:
        monkeypatch.setenv("QD_API_TEST_KEY", VENUE_KEY)
        monkeypatch.setenv("QD_API_TEST_SECRET", VENUE_SECRET)
        write_config(quantdesk_home, v.url)
        yield v


def write_config(home: Path, venue_url: str, extra: str = "") -> None:
    (home / "quantdesk.toml").write_text(f"""
[venues.sim]
exchange = "binance"
api_url = "{venue_url}"
key_env = "QD_API_TEST_KEY"
secret_env = "QD_API_TEST_SECRET"

[risk.default]
max_qty_per_order = 1
{extra}
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app under a real uvicorn server in a thread (streams and schemathesis need real HTTP)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(desk: Desk) -> Iterator[LiveServer]:
    with LiveServer(create_app(ledger=desk.ledger, config=UNLIMITED)) as server:
        yield server
