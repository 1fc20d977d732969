"""Two simulated venues side by side on one market clock, the second's book moved by a planted offset."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.config_file import update_config
from quantdesk.venue import TEST_API_KEY, TEST_API_SECRET, SimulatedVenue
from quantdesk.venue.book_shape import BookShape
from quantdesk.venue.streams import MarketStreams
from tests.live.conftest import candles

OFFSET_BPS = Decimal(30)
SPREAD_BPS = Decimal(2)
LEVEL_QTY = Decimal("0.4")
FEE_BPS = Decimal(10)  # ccxt's binance taker fee (0.001), which the scanner reads from the market
OPTIONS = {"defaultType": "spot", "fetchMargins": False}


@dataclass
class Pair:
    """Venue `sim-a` and venue `sim-b` (offset), their streams, the shared clock and a ticking thread."""

    a: SimulatedVenue
    b: SimulatedVenue
    streams_a: MarketStreams
    streams_b: MarketStreams
    clock: ManualClock
    ticking: threading.Event  # set: the market clock moves (so the depth streams send)

    def price(self) -> Decimal:
        return self.a.engine.current_price("BTC/USDT", self.clock.now_ms())

    def tick(self) -> Decimal:
        return self.a.engine.specs["BTC/USDT"].tick_size


def planted_edge(price: Decimal, tick: Decimal, qty: Decimal, fee: Decimal, transfer: Decimal = Decimal(0)) -> Decimal:
    """The edge of buying `qty` on sim-a and selling on sim-b, from the planted numbers alone (independent of arb)."""
    def to_tick(value: Decimal, rounding: str) -> Decimal:
        return (value / tick).to_integral_value(rounding=rounding) * tick

    ask = to_tick(price * (1 + SPREAD_BPS / 20_000), ROUND_CEILING)
    mid_b = price * (1 + OFFSET_BPS / 10_000)
    bid = to_tick(mid_b - mid_b * SPREAD_BPS / 20_000, ROUND_FLOOR)
    first = min(qty, LEVEL_QTY)
    cost = first * ask + (qty - first) * (ask + tick)
    proceeds = first * bid + (qty - first) * (bid - tick)
    return (proceeds - proceeds * fee - cost - cost * fee - transfer) / (cost + cost * fee) * 10_000


@pytest.fixture
def pair(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    monkeypatch.setenv("SIM_KEY", TEST_API_KEY)  # keys: sim-b reports its withdrawal fees only to a signed request
    monkeypatch.setenv("SIM_SECRET", TEST_API_SECRET)
    frame = candles(600)
    clock = ManualClock(int(frame["ts"][200].timestamp() * 1000) + 30_000)
    shape = BookShape(levels=5, spread_bps=SPREAD_BPS, level_qty=LEVEL_QTY)
    # sim-a also lists ETH/USDT, which sim-b does not (a symbol missing on one venue)
    a = SimulatedVenue({"BTC/USDT": frame, "ETH/USDT": candles(600, symbol="ETH/USDT")}, clock=clock,
                       book_shape=shape).start()
    b = SimulatedVenue({"BTC/USDT": frame}, clock=clock, book_shape=shape.updated({"price_offset_bps": OFFSET_BPS}),
                       withdraw_fees={"USDT": "1"}).start()
    streams_a, streams_b = MarketStreams(a).start(), MarketStreams(b).start()
    config = quantdesk_home / "quantdesk.toml"
    for name, venue, streams in (("sim-a", a, streams_a), ("sim-b", b, streams_b)):
        update_config(config, "venues", name, {"exchange": "binance", "api_url": venue.url, "ws_url": streams.url,
                                               "options": OPTIONS, "key_env": "SIM_KEY", "secret_env": "SIM_SECRET"})
    ticking, done = threading.Event(), threading.Event()

    def advance() -> None:  # 0.5 s of market time every 20 ms: the depth streams send on every step
        while not done.wait(0.02):
            if ticking.is_set():
                clock.advance(500)

    mover = threading.Thread(target=advance, daemon=True)
    mover.start()
    try:
        yield Pair(a=a, b=b, streams_a=streams_a, streams_b=streams_b, clock=clock, ticking=ticking)
    finally:
        done.set()
        mover.join(timeout=5)
        for server in (streams_a, streams_b, a, b):
            server.stop()
