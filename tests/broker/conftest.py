"""Fixtures: a simulated venue the real ccxt client talks to, a real ledger, a real risk gate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from quantdesk.broker import CcxtBroker, GatedBroker
from quantdesk.core import ManualClock, OrderIntent, OrderType, Side
from quantdesk.ledger import Ledger
from quantdesk.risk import RiskConfig, RiskGate
from quantdesk.venue import SimulatedVenue, binance_client

START = datetime(2024, 1, 1, tzinfo=UTC)
BARS = 180
SYMBOL = "BTC/USDT"
CANARY_KEY = "CanaryKey7f3a9e1bd24c4e0f8a6b5c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2"
CANARY_SECRET = "CanarySecret0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"


def candles() -> pl.DataFrame:
    """Return 180 synthetic 1m bars: close cycles 100.0 .. 104.5, high/low one above/below."""
    ts = [START + timedelta(minutes=i) for i in range(BARS)]
    close = [100.0 + (i % 10) * 0.5 for i in range(BARS)]
    return pl.DataFrame(
        {
            "ts": ts,
            "open": close,
            "high": [c + 1 for c in close],
            "low": [c - 1 for c in close],
            "close": close,
            "volume": [1000.0] * BARS,
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@pytest.fixture
def venue() -> Iterator[SimulatedVenue]:
    """A running simulated venue with market time at bar 60 (so later bars can fill limits)."""
    with SimulatedVenue(
        {SYMBOL: candles()}, clock=ManualClock(START + timedelta(minutes=60)),
        api_key=CANARY_KEY, api_secret=CANARY_SECRET,
    ) as v:
        yield v


PG_HOST, PG_PORT = "127.0.0.1", 5432


def _pg_admin() -> tuple[Any, str | None]:
    """Connect as a trust-auth superuser (`postgres` or `root`) on 127.0.0.1:5432, like tests/ledger."""
    import psycopg

    for user in ("postgres", "root"):
        try:
            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres",
                                   autocommit=True, connect_timeout=3), user
        except psycopg.Error:
            continue
    return None, None


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The real SQLite ledger file, and a fresh PostgreSQL database where a server answers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    admin, user = _pg_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} with trust auth (user postgres or root)")
    name = f"qd_broker_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger(ledger_url, migrate=True)
    yield led
    led.close()


@pytest.fixture
def broker_clock() -> ManualClock:
    """The broker's own clock (rate-limit windows), independent of the venue's market time."""
    return ManualClock(START)


def make_broker(venue: SimulatedVenue, clock: ManualClock, timeout_ms: int = 1000) -> CcxtBroker:
    return CcxtBroker(binance_client(venue, timeout_ms=timeout_ms), name="sim", clock=clock,
                      lookup_delay_s=0.05, sleep=lambda s: None)


def make_gated(venue: SimulatedVenue, ledger: Ledger, clock: ManualClock, *, notifier: Any = None,
               timeout_ms: int = 1000, risk: dict[str, Any] | None = None) -> GatedBroker:
    broker = make_broker(venue, clock, timeout_ms)
    gate = RiskGate(RiskConfig.from_dict(risk or {}), clock, ledger)
    return GatedBroker(broker, ledger, gate, venue="sim", notifier=notifier, clock=clock, actor="test")


def intent(cid: str, *, side: Side = Side.BUY, qty: str = "0.2", price: str | None = None,
           deployment: str = "dep") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid, deployment=deployment, venue="sim", symbol=SYMBOL, side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET, qty=Decimal(qty),
        price=None if price is None else Decimal(price), ts=START,
    )


class RecordingNotifier:
    """A fake notifier that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def notify(self, event: Any) -> bool:
        self.sent.append(event)
        return True
