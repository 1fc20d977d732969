"""Streaming candles: the real ccxt pro client against the simulated venue's WebSocket streams.

Market time advances one 1m bar every 0.1 s. Whatever the stream does (disconnects, duplicated
or out-of-order messages, going silent), the bars written to the lake must be exactly what REST
ingestion stores for the same window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.ingest import ingest
from quantdesk.lake import Lake
from quantdesk.live.stream import CandleStream
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.streams import KlineStreams
from tests.live.conftest import candles

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEP_S = 0.1


class Rig:
    def __init__(self, venue: SimulatedVenue, streams: KlineStreams, clock: ManualClock, start_ms: int) -> None:
        self.venue, self.streams, self.clock, self.start_ms = venue, streams, clock, start_ms
        self.stop = threading.Event()
        self.after: dict[int, Callable[[], None]] = {}  # bars advanced since the stream connected -> fault
        self.bars = 0
        self.connected_at: int | None = None

    def tick(self) -> None:
        while not self.stop.is_set():
            time.sleep(STEP_S)
            self.venue.advance(by=60_000)
            self.bars += 1
            # faults count from the stream's first connection: on a loaded machine the client's
            # start-up (markets, REST backfill) can outlast the first bars, and a fault injected
            # before anything is connected tests nothing
            if self.connected_at is None and self.streams.connections_opened > 0:  # type: ignore[attr-defined]
                self.connected_at = self.bars
            if self.connected_at is not None:
                action = self.after.pop(self.bars - self.connected_at, None)
                if action is not None:
                    action()


@pytest.fixture
def rig(quantdesk_home: Path) -> Iterator[Rig]:
    frame = candles(900)
    start_ms = int(frame["ts"][300].timestamp() * 1000)
    clock = ManualClock(start_ms)
    with SimulatedVenue({"BTC/USDT": frame, "ETH/USDT": candles(900, symbol="ETH/USDT", seed=3)},
                        clock=clock) as venue:
        streams = KlineStreams(venue).start()
        (quantdesk_home / "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\nws_url = "{streams.url}"\n'
            'options = { defaultType = "spot", fetchCurrencies = false, fetchMargins = false }\n')
        r = Rig(venue, streams, clock, start_ms)
        ticker = threading.Thread(target=r.tick, daemon=True)
        try:
            yield r
        finally:
            r.stop.set()
            if ticker.is_alive():
                ticker.join(timeout=5)
            streams.stop()
        r.ticker = ticker  # type: ignore[attr-defined]


def _stream(rig: Rig, bars: int, **kw: object) -> object:
    ticker = threading.Thread(target=rig.tick, daemon=True)
    ticker.start()
    try:
        return CandleStream("sim", ["BTC/USDT", "ETH/USDT"], "1m", since="2024-01-01", clock=rig.clock,
                            wall_stale_s=kw.pop("wall_stale_s", 1.0), **kw).run(max_bars=bars)  # type: ignore[arg-type]
    finally:
        rig.stop.set()
        ticker.join(timeout=5)


def _same_as_rest(tmp_path: Path, rig: Rig) -> None:
    streamed = Lake()
    rest = Lake(tmp_path / "rest-lake")
    for symbol in ("BTC/USDT", "ETH/USDT"):
        got = streamed.candles(symbol, "1m", exchange="sim")
        end = got["ts"].max()
        ingest("sim", [symbol], "1m", "2024-01-01", (end + timedelta(minutes=1)).isoformat(), lake=rest,
               clock=rig.clock)  # `until` is exclusive
        want = rest.candles(symbol, "1m", exchange="sim")
        assert got.equals(want), (symbol, got.height, want.height)
        assert got["ts"].diff().drop_nulls().unique().to_list() == [got["ts"].diff()[1]], "no holes, no repeats"


def test_streamed_bars_equal_rest_ingestion(rig: Rig, tmp_path: Path) -> None:
    report = _stream(rig, 15)
    assert report.written["BTC/USDT"] >= 15 and report.stale_events == 0  # type: ignore[attr-defined]
    assert rig.streams.sent > 0
    _same_as_rest(tmp_path, rig)


def test_disconnects_duplicates_and_out_of_order_messages_change_nothing(rig: Rig, tmp_path: Path) -> None:
    rig.streams.duplicate(True)
    rig.streams.reorder(True)
    rig.after = {5: rig.streams.drop, 12: rig.streams.drop}
    report = _stream(rig, 25)
    assert report.reconnects >= 1 and rig.streams.connections_opened >= 2  # type: ignore[attr-defined]
    _same_as_rest(tmp_path, rig)


def test_a_silent_stream_is_stale_reconnects_and_is_backfilled(rig: Rig, tmp_path: Path) -> None:
    rig.after = {4: lambda: rig.streams.mute(True), 20: lambda: rig.streams.mute(False)}
    report = _stream(rig, 25, wall_stale_s=0.6)
    assert report.stale_events >= 1 and report.backfills >= 2  # type: ignore[attr-defined]
    _same_as_rest(tmp_path, rig)


def test_quantdesk_stream_writes_the_bars_and_reports_json(rig: Rig, quantdesk_home: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from quantdesk.live.schedule import ScaledClock

    scaled = ScaledClock(rig.start_ms, int(time.time() * 1000), 60.0 / STEP_S)  # the CLI's clock follows the venue's
    ticker = threading.Thread(target=rig.tick, daemon=True)
    ticker.start()
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("quantdesk")), "stream", "--exchange", "sim",
                               "--symbol", "BTC/USDT", "--bars", "3", "--since", "2024-01-01", "--json"],
                              env={**os.environ, "QUANTDESK_CLOCK": scaled.spec()}, capture_output=True, text=True,
                              timeout=120, check=False)
    finally:
        rig.stop.set()
        ticker.join(timeout=5)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["written"]["BTC/USDT"] >= 3
    assert Lake().candles("BTC/USDT", "1m", exchange="sim").height > 300
