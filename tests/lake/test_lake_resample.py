"""Resampling on read equals a straightforward reference aggregation; strict mode keeps complete buckets only."""

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
        built = lake.candles("A/B", timeframe)
        strict = lake.candles("A/B", timeframe, complete_only=True)
    expected = _reference(frame, timeframe)
    assert built.get_column("ts").to_list() == [r["ts"] for r in expected]
    for got, want in zip(built.iter_rows(named=True), expected, strict=True):
        assert got["open"] == want["open"] and got["close"] == want["close"]
        assert got["high"] == want["high"] and got["low"] == want["low"]
        assert got["volume"] == pytest.approx(want["volume"], rel=1e-12)
        assert got["source_bars"] == want["bars"] and got["forming"] is False  # 2024: long over
    assert int(built["source_bars"].sum()) == frame.height, "every source bar lands in exactly one bucket"
    assert list(built.schema)[:6] == list(CANDLE_SCHEMA)
    assert strict.equals(built.filter(pl.col("source_bars") == timeframe_ms(timeframe) // 60_000))


def test_the_still_forming_hour_is_marked_and_left_out_by_strict_mode(tmp_path: Path) -> None:
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake import Lake, closed_candles

    writer = make_lake(tmp_path)
    writer.write(candles(list(range(150)), t0_ms=MONDAY_MS), exchange="e", symbol="A/B", timeframe="1m")
    # 02:30 on the lake's clock: the 02:00 bucket holds 30 of its 60 minutes and is still forming.
    lake = Lake(writer.root, clock=ManualClock(MONDAY_MS + 150 * 60_000))
    hours = lake.candles("A/B", "1h")
    assert hours["source_bars"].to_list() == [60, 60, 30]
    assert hours["forming"].to_list() == [False, False, True]
    assert lake.candles("A/B", "1h", complete_only=True).height == 2
    assert closed_candles(hours).schema == CANDLE_SCHEMA and closed_candles(hours).height == 2
    # Hours later the same 30 minutes are a finished bucket with a hole, not a forming one.
    later = Lake(writer.root, clock=ManualClock(MONDAY_MS + 10 * 3_600_000)).candles("A/B", "1h")
    assert later["forming"].to_list() == [False, False, False]


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
    assert lake.candles("A/B", "4h").get_column("source_bars").to_list() == [3]
    assert lake.candles("A/B", "4h", complete_only=True).height == 0
    with pytest.raises(LakeError, match="no 1m candles"):
        lake.candles("A/B", "1m")


def test_hours_from_real_minutes_with_holes_equal_an_independent_aggregation(shared_data: Path, tmp_path: Path) -> None:
    """2018 Binance minutes have holes; every hour with any minute is built, as DuckDB's GROUP BY builds it."""
    import duckdb

    from quantdesk.ingest import import_file
    from quantdesk.lake import Lake

    path = shared_data / "freqtrade-testdata" / "UNITTEST_BTC-1m.feather"
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    lake = Lake(tmp_path / "lake")
    import_file(path, lake=lake, exchange="binance", symbol="UNITTEST/BTC")
    minutes = lake.candles("UNITTEST/BTC", "1m")
    hours = lake.candles("UNITTEST/BTC", "1h")
    full = timeframe_ms("1h") // 60_000
    assert (hours["source_bars"] < full).sum() > 0, "the file must have hours with missing minutes for this to mean anything"
    con = duckdb.connect()
    con.register("minutes", minutes.to_arrow())
    expected = con.sql("""
        SELECT time_bucket(INTERVAL 1 HOUR, ts) AS ts, arg_min(open, ts) AS open, max(high) AS high,
               min(low) AS low, arg_max(close, ts) AS close, sum(volume) AS volume, count(*) AS source_bars
        FROM minutes GROUP BY 1 ORDER BY 1
    """).pl()
    assert hours["ts"].dt.epoch("ms").to_list() == expected["ts"].dt.epoch("ms").to_list()
    for column in ("open", "high", "low", "close"):
        assert hours[column].to_list() == expected[column].to_list(), column
    assert hours["volume"].to_numpy() == pytest.approx(expected["volume"].to_numpy(), rel=1e-12)
    assert hours["source_bars"].to_list() == expected["source_bars"].to_list()
    strict = lake.candles("UNITTEST/BTC", "1h", complete_only=True)
    assert strict.height == int((expected["source_bars"] == full).sum()) < hours.height


def test_five_minutes_built_from_real_minutes_equal_the_exchanges_own(shared_data: Path, tmp_path: Path) -> None:
    """POWR/BTC 2018: Binance's own 5m candles (shipped as TRX_BTC-5m, see the MANIFEST) from its 1m ones.

    The 1m file misses 2,421 minutes; the exchange built its 5m candles from the minutes that
    traded, so the default resampling must match them bucket for bucket, holes and all.
    """
    from quantdesk.ingest import import_file
    from quantdesk.lake import Lake

    minutes, own = (shared_data / "freqtrade-testdata" / name for name in ("POWR_BTC-1m.json", "TRX_BTC-5m.json"))
    if not minutes.exists() or not own.exists():
        pytest.skip(f"real data not available: {minutes} or {own} is absent")
    lake = Lake(tmp_path / "lake")
    import_file(minutes, lake=lake, exchange="binance", symbol="POWR/BTC", timeframe="1m")
    import_file(own, lake=lake, exchange="exchange5m", symbol="POWR/BTC", timeframe="5m")
    built = lake.candles("POWR/BTC", "5m", exchange="binance")
    exchange = lake.candles("POWR/BTC", "5m", exchange="exchange5m")
    common = built.join(exchange, on="ts", how="inner", suffix="_own")
    # The 5m file starts ten days earlier; over the 1m file's span the buckets are the same
    # (the 1m file starts and ends inside a 5m bucket: those two may differ).
    assert common.height >= built.height - 2
    assert (built["source_bars"] < 5).sum() > 100, "many buckets are built from fewer than 5 minutes"
    inner = common.slice(1, common.height - 2)
    for column in ("open", "high", "low", "close"):
        assert inner[column].to_list() == inner[f"{column}_own"].to_list(), column
    assert inner["volume"].to_numpy() == pytest.approx(inner["volume_own"].to_numpy(), rel=1e-9)
    strict = lake.candles("POWR/BTC", "5m", exchange="binance", complete_only=True)
    assert strict.height < common.height - 100, "strict mode leaves holes the exchange's series does not have"
