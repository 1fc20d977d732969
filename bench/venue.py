"""Benchmark the simulated venue through the real ccxt client; print JSON.

Run: .venv/bin/python bench/venue.py
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from quantdesk.core.clock import ManualClock
from quantdesk.venue import SimulatedVenue, binance_client


def _candles(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[30_000.0, close[:-1]]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ts = pl.datetime_range(
        start, start + timedelta(minutes=n - 1), "1m", time_unit="ms", time_zone="UTC", eager=True
    )
    return pl.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": rng.uniform(1, 20, n),
        }
    )


def main() -> None:
    n = 100_000
    frame = _candles(n)
    start_ms = int(frame["ts"][0].timestamp() * 1000)
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start_ms + n * 60_000)) as venue:
        client = binance_client(venue)
        client.load_markets()
        t0 = time.perf_counter()
        since, rows = start_ms, 0
        while page := client.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=1000):
            rows += len(page)
            since = page[-1][0] + 60_000
        klines_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        orders = 200
        for i in range(orders):
            client.create_order("BTC/USDT", "market", "buy" if i % 2 == 0 else "sell", 0.01)
        orders_s = time.perf_counter() - t0
        client.session.close()
    print(
        json.dumps(
            {
                "klines_rows": rows,
                "klines_rows_per_s": round(rows / klines_s),
                "klines_pages_per_s": round((rows / 1000) / klines_s, 1),
                "market_orders_per_s": round(orders / orders_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
