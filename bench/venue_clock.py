"""How closely `quantdesk run --venue-clock` follows a simulated venue at 60x; print JSON.

The venue moves its market clock the way `quantdesk venue serve --speed 60` does (a step
every 50 ms of wall time); `VenueClock` samples it over HTTP with the real ccxt client once a
second and extrapolates in between. Every 20 ms the bench reads both and records the error
(VenueClock minus the venue, in market seconds; at 60x one market second is 17 ms of wall
time). The peer is `ScaledClock` (`QUANTDESK_CLOCK=scaled:START_MS:WALL0_MS:SPEED`), which is
told the venue's start and speed up front instead of reading them: same venue, same run,
same readings. The first 3 wall seconds (the clock learning the rate) are reported apart.

Run: .venv/bin/python bench/venue_clock.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from quantdesk.core.clock import ManualClock
from quantdesk.live.schedule import ScaledClock
from quantdesk.live.venue_clock import VenueClock
from quantdesk.venue import SimulatedVenue, binance_client

SPEED = 60.0


def _candles(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[30_000.0, close[:-1]]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ts = pl.datetime_range(start, start + timedelta(minutes=n - 1), "1m", time_unit="ms", time_zone="UTC", eager=True)
    return pl.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": rng.uniform(1, 20, n)})


def _stats(errors_ms: list[float]) -> dict[str, float]:
    seconds = np.abs(np.asarray(errors_ms)) / 1000
    return {"p50_market_s": round(float(np.percentile(seconds, 50)), 2),
            "p95_market_s": round(float(np.percentile(seconds, 95)), 2),
            "max_market_s": round(float(seconds.max()), 2),
            "max_wall_ms": round(float(seconds.max()) * 1000 / SPEED, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    seconds = parser.parse_args().seconds
    frame = _candles(20_000)
    start_ms = int(frame["ts"][1_000].timestamp() * 1000)
    market = ManualClock(start_ms)
    with SimulatedVenue({"BTC/USDT": frame}, clock=market) as venue:
        stop = threading.Event()
        wall0 = time.monotonic()
        scaled = ScaledClock(start_ms, int(time.time() * 1000), SPEED)

        def tick() -> None:  # what `quantdesk venue serve --speed 60` does
            while not stop.wait(0.05):
                target = start_ms + int((time.monotonic() - wall0) * SPEED * 1000)
                if target > market.now_ms():
                    venue.advance(to=target)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        clock = VenueClock(binance_client(venue), venue="sim")
        warmup: dict[str, list[float]] = {"venue_clock": [], "scaled_clock": []}
        steady: dict[str, list[float]] = {"venue_clock": [], "scaled_clock": []}
        began = time.monotonic()
        try:
            while (elapsed := time.monotonic() - began) < seconds:
                truth = market.now_ms()
                into = warmup if elapsed < 3 else steady
                into["venue_clock"].append(clock.now_ms() - truth)
                into["scaled_clock"].append(scaled.now_ms() - truth)
                time.sleep(0.02)
        finally:
            clock.close()
            stop.set()
            ticker.join()
        print(json.dumps({
            "bench": "venue_clock", "speed": SPEED, "wall_seconds": seconds, "samples_taken": clock.samples_taken,
            "estimated_rate": round(clock.rate, 3),
            "steady": {name: _stats(errors) for name, errors in steady.items()},
            "first_3_s": {name: _stats(errors) for name, errors in warmup.items()},
            "note": "error = clock minus the venue's market clock; the venue itself moves in 3 s steps (50 ms at 60x)",
        }, indent=2))


if __name__ == "__main__":
    main()
