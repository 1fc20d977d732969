"""Fixtures for the runner tests: synthetic candles, a fast-flipping strategy file, deployments."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

FLIP_SOURCE = textwrap.dedent('''
    """A test strategy that flips between flat and half long every `period` bars (causal: only ts)."""
    import polars as pl

    from quantdesk.strategies import Strategy, param


    class Flip(Strategy):
        period = param(3, min=1, max=1000)
        level = param(0.5, min=0.0, max=1.0)

        def target(self, candles):
            minutes = candles["ts"].dt.epoch("ms") // 60_000
            return ((minutes // self.period) % 2).cast(pl.Float64) * self.level
''')


def candles(minutes: int, *, symbol: str = "BTC/USDT", seed: int = 7) -> pl.DataFrame:
    """Return gap-free synthetic 1m candles (labelled synthetic by the lake's sample generator)."""
    from quantdesk.lake.sample import generate_candles

    frame = generate_candles(symbol, minutes=minutes + 50, seed=seed)
    # the generator drops a few outage bars; rebuild a gap-free grid for venue tests
    start = frame["ts"][0]
    ts = pl.datetime_range(start, start + pl.duration(minutes=minutes - 1), "1m", eager=True, time_unit="ms",
                           time_zone="UTC")
    return pl.DataFrame({"ts": ts}).join(frame, on="ts", how="left").with_columns(
        pl.col("open", "high", "low", "close", "volume").forward_fill().backward_fill()
    ).with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")))


@pytest.fixture
def flip_strategy(tmp_path: Path) -> str:
    """Write the flip strategy to a file and return its `path.py:Class` reference."""
    path = tmp_path / "flip.py"
    path.write_text(FLIP_SOURCE)
    return f"{path}:Flip"


def make_deployment(ledger: Any, name: str, *, strategy: str, symbols: Sequence[str] = ("BTC/USDT",),
                    stage: str = "paper", venue: str = "paper", exchange: str | None = None,
                    params: dict[str, Any] | None = None, capital: str = "10000", timeframe: str = "1m",
                    **extra: Any) -> Any:
    """Create a deployment and move it straight to `stage` (tests skip the evidence gates)."""
    from quantdesk.ledger.registry import update_deployment
    from quantdesk.promotion import create_deployment, get_deployment

    create_deployment(ledger, name, strategy=strategy, symbols=list(symbols), timeframe=timeframe, actor="tester",
                      params=params or {}, venue=venue, exchange=exchange, capital=Decimal(capital), **extra)
    update_deployment(ledger, name, {"stage": stage})
    return get_deployment(ledger, name)


class VenueTicker:
    """Move a simulated venue's market time along a scaled clock, in a background thread."""

    def __init__(self, venue: Any, scaled: Any) -> None:
        self.venue, self.scaled = venue, scaled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.venue.advance(to=max(self.scaled.now_ms(), self.venue.clock.now_ms()))
            time.sleep(0.02)

    def start(self) -> VenueTicker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
