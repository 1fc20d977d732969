"""Validation: every bad row goes to the quarantine with its reason; good rows are never dropped."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.lake import QuarantineReason
from tests.lake.lake_helpers import NOW, T0_MS, candles, make_lake

SERIES = {"exchange": "binance", "symbol": "ETH/USDT", "timeframe": "1m"}
NOW_MS = int(NOW.timestamp() * 1000)
R = QuarantineReason

# One broken row per reason: (ts in ms, open, high, low, close, volume).
_NAN = float("nan")


def _bad_row(reason: QuarantineReason, slot: int, variant: int) -> list[tuple]:
    ts = T0_MS + (10_000 + slot) * 60_000  # away from the good rows
    match reason:
        case R.BAD_PRICE:
            price = [_NAN, -1.0, 0.0, None, float("inf")][variant % 5]
            return [(ts, price, 101.0, 99.0, 100.0, 1.0)]
        case R.HIGH_BELOW_LOW:
            return [(ts, 99.5, 99.0, 100.0, 99.5, 1.0)]
        case R.HIGH_BELOW_OPEN_CLOSE:
            return [(ts, 105.0, 104.0, 99.0, 100.0, 1.0)]
        case R.LOW_ABOVE_OPEN_CLOSE:
            return [(ts, 100.0, 106.0, 101.0, 105.0, 1.0)]
        case R.BAD_VOLUME:
            return [(ts, 100.0, 101.0, 99.0, 100.0, [-1.0, _NAN, None][variant % 3])]
        case R.OFF_GRID:
            return [(ts + 1 + variant % 59_999, 100.0, 101.0, 99.0, 100.0, 1.0)]
        case R.FUTURE:
            return [(NOW_MS + (1 + slot) * 60_000, 100.0, 101.0, 99.0, 100.0, 1.0)]
        case R.OPEN_CANDLE:
            return [(NOW_MS, 100.0, 101.0, 99.0, 100.0, 1.0)]  # opened at now, closes a minute later
        case R.DUPLICATE_CONFLICT:
            return [(ts, 100.0, 101.0, 99.0, 100.0, 1.0), (ts, 100.0, 101.0, 99.0, 100.0, 2.0)]
        case R.MISSING_TS:
            return [(None, 100.0, 101.0, 99.0, 100.0, 1.0 + slot)]
    raise AssertionError(reason)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    columns = ["ts", "open", "high", "low", "close", "volume"]
    schema = {"ts": pl.Int64, **{c: pl.Float64 for c in columns[1:]}}
    return pl.DataFrame(rows, schema=schema, orient="row")


@settings(max_examples=40, deadline=None)
@given(
    good=st.lists(st.integers(0, 3000), unique=True, max_size=60),
    bad=st.lists(st.tuples(st.sampled_from(list(R)), st.integers(0, 10_000)), max_size=12),
    seed=st.integers(0, 100),
)
def test_bad_rows_are_quarantined_with_their_reason_and_good_rows_stored(
    good: list[int], bad: list[tuple[QuarantineReason, int]], seed: int
) -> None:
    # Only one candle can be open at a time.
    opens = [i for i, (reason, _v) in enumerate(bad) if reason is R.OPEN_CANDLE]
    bad = [item for i, item in enumerate(bad) if i not in opens[1:]]
    good_frame = candles(good, seed).with_columns(pl.col("ts").cast(pl.Int64))
    bad_rows = [row for slot, (reason, variant) in enumerate(bad) for row in _bad_row(reason, slot, variant)]
    expected = Counter(r for r, _v in bad for _row in _bad_row(r, 0, 0))
    batch = pl.concat([good_frame, _frame(bad_rows)]).sample(fraction=1.0, shuffle=True, seed=seed)
    with tempfile.TemporaryDirectory() as root:
        lake = make_lake(Path(root))
        report = lake.write(batch, **SERIES)
        stored = lake.candles("ETH/USDT", "1m") if good else None
        quarantined = lake.quarantine()
    assert report.inserted == len(good)
    assert report.quarantined == sum(expected.values()) == quarantined.height
    assert Counter(R(r) for r in quarantined.get_column("reason")) == expected
    if stored is not None:
        assert stored.get_column("ts").cast(pl.Int64).to_list() == sorted(good_frame.get_column("ts").to_list())


def test_exact_duplicates_merge_and_the_quarantine_is_idempotent(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    frame = candles([0, 1, 2])
    broken = frame.head(1).with_columns(high=pl.col("low") - 1, ts=pl.col("ts").dt.offset_by("5m"))
    batch = pl.concat([frame, frame, broken])
    first = lake.write(batch, **SERIES)
    second = lake.write(batch, **SERIES)
    assert (first.inserted, first.quarantined) == (3, 1)
    assert (second.unchanged, second.quarantined) == (3, 1)
    rows = lake.quarantine("ETH/USDT")
    assert rows.height == 1
    assert rows.row(0, named=True)["reason"] == "high_below_low"
    assert rows.row(0, named=True)["symbol"] == "ETH/USDT"
    assert lake.sql("select reason, count(*) from quarantine group by 1").fetchall() == [("high_below_low", 1)]


def test_a_batch_of_only_bad_rows_stores_nothing_but_the_quarantine(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    frame = candles([0, 1]).with_columns(volume=pl.lit(-1.0))
    report = lake.write(frame, **SERIES)
    assert (report.inserted, report.quarantined, report.files_written) == (0, 2, 0)
    assert lake.series() == []
    assert set(lake.quarantine().get_column("reason")) == {"bad_volume"}


def test_weekly_candles_open_on_monday(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    monday = 1704067200000  # 2024-01-01 was a Monday
    frame = candles([0, 1], step_ms=7 * 86_400_000, t0_ms=monday)
    thursday = candles([0], t0_ms=monday + 3 * 86_400_000)
    assert lake.write(frame, exchange="x", symbol="A/B", timeframe="1w").inserted == 2
    assert lake.write(thursday, exchange="x", symbol="A/B", timeframe="1w").quarantined == 1
