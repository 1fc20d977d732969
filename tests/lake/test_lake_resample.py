"""Resampling on read equals a straightforward reference aggregation; incomplete buckets are never complete."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import LakeError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.lake.validation import CANDLE_SCHEMA
from tests.lake.lake_helpers import candles, make_lake

MONDAY_MS = 1704067200000  # 2024-01-01, a Monday


def _reference(frame: pl.DataFrame, timeframe: str) -> list[dict]:
    """Aggregate 1m rows bucket by bucket with plain Python."""
    size = timeframe_ms(timeframe)
    offset = 4 * 86_400_000 if timeframe.endswith("w") else 0
    buckets: dict[int, list[dict]] = {}
    for row in frame.sort("ts").iter_rows(named=True):
        ms = int(row["ts"].timestamp() * 1000)
        buckets.setdefault(ms - (ms - offset) % size, []).append(row)
    out = []
    for start, rows in sorted(buckets.items()):
        out.append(
            {
                "ts": datetime.fromtimestamp(start / 1000, UTC),
                "open": rows[0]["open"],
                "high": max(r["high"] for r in rows),
                "low": min(r["low"] for r in rows),
                "close": rows[-1]["close"],
                "volume": sum(r["volume"] for r in rows),
                "bars": len(rows),
                "complete": len(rows) == size // 60_000,
            }
        )
    return out


@settings(max_examples=25, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 3 * 1440), unique=True, min_size=1, max_size=400),
    timeframe=st.sampled_from(["5m", "15m", "1h", "4h", "1d"]),
    dense=st.booleans(),
)
def test_resampling_equals_the_reference(minutes: list[int], timeframe: str, dense: bool) -> None:
    if dense:  # whole runs of bars, so complete buckets occur
        minutes = list(range(min(minutes), min(minutes) + 2 * 1440 + 7))
    frame = candles(minutes, seed=len(minutes), t0_ms=MONDAY_MS)
    with tempfile.TemporaryDirectory() as root:
        lake = make_lake(Path(root))
        lake.write(frame, exchange="e", symbol="A/B", timeframe="1m")
        marked = lake.candles("A/B", timeframe, incomplete="mark")
        dropped = lake.candles("A/B", timeframe)
    expected = _reference(frame, timeframe)
    assert marked.get_column("ts").to_list() == [r["ts"] for r in expected]
    for got, want in zip(marked.iter_rows(named=True), expected, strict=True):
        assert got["open"] == want["open"] and got["close"] == want["close"]
        assert got["high"] == want["high"] and got["low"] == want["low"]
        assert got["volume"] == pytest.approx(want["volume"], rel=1e-12)
        assert (got["bars"], got["complete"]) == (want["bars"], want["complete"])
    assert dropped.schema == CANDLE_SCHEMA
    assert dropped.equals(marked.filter("complete").drop("bars", "complete"))


def test_the_still_running_trailing_hour_is_dropped(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    lake.write(candles(list(range(150)), t0_ms=MONDAY_MS), exchange="e", symbol="A/B", timeframe="1m")
    hours = lake.candles("A/B", "1h")
    assert hours.height == 2  # 00:00 and 01:00 complete; 02:00 has 30 of 60 bars
    assert lake.candles("A/B", "1h", incomplete="mark").get_column("complete").to_list() == [True, True, False]


def test_weekly_and_daily_buckets_align_to_the_venue_grid(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    lake.write(candles(list(range(0, 14 * 1440)), t0_ms=MONDAY_MS), exchange="e", symbol="A/B", timeframe="1m")
    weeks = lake.candles("A/B", "1w")
    assert [ts.weekday() for ts in weeks.get_column("ts")] == [0, 0]
    days = lake.candles("A/B", "1d", start="2024-01-03", end="2024-01-05")
    assert [ts.isoformat() for ts in days.get_column("ts")] == ["2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00"]


def test_a_stored_coarser_timeframe_is_read_directly_and_impossible_ones_refused(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    lake.write(candles([0, 1, 2], step_ms=3_600_000, t0_ms=MONDAY_MS), exchange="e", symbol="A/B", timeframe="1h")
    assert lake.candles("A/B", "1h").height == 3
    assert lake.candles("A/B", "4h", incomplete="mark").get_column("bars").to_list() == [3]
    with pytest.raises(LakeError, match="no 1m candles"):
        lake.candles("A/B", "1m")
