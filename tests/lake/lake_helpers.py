"""Builders of candle frames for the lake tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import strategies as st

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake

T0_MS = int(datetime(2024, 1, 30, tzinfo=UTC).timestamp() * 1000)  # near a month boundary
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def make_lake(root: Path) -> Lake:
    """Return a lake whose clock stands at NOW, well after every test candle."""
    return Lake(root, clock=ManualClock(NOW))


def candles(minutes: list[int], seed: int = 0, step_ms: int = 60_000, t0_ms: int = T0_MS) -> pl.DataFrame:
    """Return valid candles at `t0 + minute * step` for each minute index (in the given order)."""
    rng = np.random.default_rng(seed)
    n = len(minutes)
    open_ = 100 + rng.random(n) * 10
    close = 100 + rng.random(n) * 10
    high = np.maximum(open_, close) + rng.random(n)
    low = np.minimum(open_, close) - rng.random(n)
    volume = rng.random(n) * 5
    ts = t0_ms + np.asarray(minutes, dtype=np.int64) * step_ms
    return pl.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    ).with_columns(pl.from_epoch("ts", time_unit="ms").dt.cast_time_unit("ms").dt.replace_time_zone("UTC"))


def checksums(root: Path) -> dict[str, str]:
    """Return sha256 of every visible file under root, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def visible_files(root: Path) -> list[Path]:
    """Return every file a reader could see (dot-files are temporaries or locks)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


# Sets of minute indices spanning up to ~3 days, crossing the end of January.
minute_sets = st.lists(st.integers(min_value=0, max_value=4 * 1440), min_size=1, max_size=150, unique=True)
