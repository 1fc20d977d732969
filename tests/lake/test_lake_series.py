"""Numeric series in the lake: layout, upsert/dedupe, windows, bad input writes nothing, listing."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import DataError, LakeError
from quantdesk.lake import Lake, list_series, read_series, write_series

KEY = {"exchange": "binanceusdm", "symbol": "XRP/USDT:USDT"}
JAN = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000


def _points(hours: list[int], values: list[float] | None = None) -> pl.DataFrame:
    return pl.DataFrame({"ts": [JAN + h * HOUR for h in hours],
                         "value": values if values is not None else [float(h) for h in hours]})


def _checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))}


def test_a_series_is_stored_in_month_files_beside_the_candles_and_read_back(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    hours = list(range(0, 24 * 40, 6))  # 40 days: January and February
    report = write_series(tmp_path, _points(hours), name="open_interest", **KEY)
    assert (report.inserted, report.files_written) == (len(hours), 2)
    folder = tmp_path / "_series" / "exchange=binanceusdm" / "symbol=XRP%2FUSDT%3AUSDT" / "name=open_interest"
    assert sorted(p.name for p in folder.glob("*.parquet")) == ["2024-01.parquet", "2024-02.parquet"]
    frame = read_series(tmp_path, "binanceusdm", "XRP/USDT:USDT", "open_interest")
    assert frame.schema == pl.Schema({"ts": pl.Datetime("ms", "UTC"), "value": pl.Float64})
    assert frame["value"].to_list() == [float(h) for h in hours]
    window = lake.numeric.read("open_interest", start="2024-01-02", end=datetime(2024, 1, 3, tzinfo=UTC), **KEY)
    assert window["ts"].to_list()[0] == datetime(2024, 1, 2, tzinfo=UTC)
    assert window["ts"].max() < datetime(2024, 1, 3, tzinfo=UTC) and window.height == 4
    assert list_series(lake) == [("binanceusdm", "XRP/USDT:USDT", "open_interest")]
    assert lake.series() == []  # numeric series are not candle series


def test_rewriting_the_same_points_changes_no_file_and_new_values_replace_old(tmp_path: Path) -> None:
    write_series(tmp_path, _points(list(range(10))), name="score", **KEY)
    before = _checksums(tmp_path)
    again = write_series(tmp_path, _points(list(range(10))), name="score", **KEY)
    assert (again.unchanged, again.inserted, again.files_written) == (10, 0, 0)
    assert _checksums(tmp_path) == before
    moved = write_series(tmp_path, _points([8, 9, 10, 11], [80.0, 9.0, 10.0, 11.0]), name="score", **KEY)
    assert (moved.inserted, moved.updated, moved.unchanged) == (2, 1, 1)
    assert read_series(tmp_path, name="score", **KEY)["value"].to_list()[7:] == [7.0, 80.0, 9.0, 10.0, 11.0]


@pytest.mark.parametrize(("frame", "message"), [
    (pl.DataFrame({"ts": [JAN, JAN], "value": [1.0, 2.0]}), r"1 timestamp\(s\) repeat .* keep one value per timestamp"),
    (pl.DataFrame({"ts": ["2024-01-01", "yesterday"], "value": [1.0, 2.0]}), r"do not parse \(first: 'yesterday'\)"),
    (pl.DataFrame({"ts": [JAN, JAN + HOUR], "value": ["1.5", "n/a"]}), r"not finite numbers \(first: 'n/a'"),
    (pl.DataFrame({"ts": [JAN, JAN + HOUR], "value": [1.0, float("inf")]}), r"1 value\(s\) are not finite"),
    (pl.DataFrame({"ts": [JAN], "rate": [1.0]}), r"needs columns ts and value; missing \['value'\]"),
])
def test_bad_points_raise_one_line_and_write_nothing(tmp_path: Path, frame: pl.DataFrame, message: str) -> None:
    write_series(tmp_path, _points([0, 1]), name="score", **KEY)
    before = _checksums(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        write_series(tmp_path, frame, name="score", **KEY)
    assert "\n" not in str(caught.value) and "Nothing was written" in str(caught.value)
    assert _checksums(tmp_path) == before


def test_names_are_checked_and_a_missing_series_names_what_is_stored(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="series name 'open interest' is not allowed"):
        write_series(tmp_path, _points([0]), name="open interest", **KEY)
    write_series(tmp_path, _points([0]), name="long_short_ratio", **KEY)
    with pytest.raises(LakeError, match=r"no series 'open_interest' for XRP/USDT:USDT on binanceusdm "
                                        r"\(stored: long_short_ratio\)"):
        read_series(tmp_path, name="open_interest", **KEY)
    assert Lake(tmp_path).numeric.read("open_interest", **KEY).height == 0


def test_timestamps_come_as_epoch_ms_datetimes_or_iso_text_and_are_stored_as_utc_ms(tmp_path: Path) -> None:
    naive = pl.DataFrame({"ts": [datetime(2024, 1, 1, 1)], "value": [1]})
    iso = pl.DataFrame({"ts": ["2024-01-01T02:00:00Z"], "value": [2]})
    write_series(tmp_path, naive, name="s", **KEY)
    write_series(tmp_path, iso, name="s", **KEY)
    assert read_series(tmp_path, name="s", **KEY)["ts"].to_list() == [
        datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 2, tzinfo=UTC)]


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 24 * 70), st.integers(-5, 5)), max_size=20), max_size=4))
def test_a_series_holds_the_last_value_written_for_each_timestamp(tmp_path_factory: pytest.TempPathFactory,
                                                                  batches: list[list[tuple[int, int]]]) -> None:
    root = tmp_path_factory.mktemp("series")
    expected: dict[int, float] = {}
    for batch in batches:
        unique = dict(batch)  # one value per timestamp within a write
        if unique:
            write_series(root, _points(list(unique), [float(v) for v in unique.values()]), name="s", **KEY)
        expected.update({h: float(v) for h, v in unique.items()})
    stored = Lake(root).numeric.read("s", **KEY)
    assert stored["ts"].to_list() == [datetime.fromtimestamp((JAN + h * HOUR) / 1000, UTC) for h in sorted(expected)]
    assert stored["value"].to_list() == [expected[h] for h in sorted(expected)]


def test_duckdb_sees_the_series_beside_the_candles(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert lake.sql("select count(*) from series").fetchall() == [(0,)]
    write_series(lake, _points(list(range(48))), name="open_interest", **KEY)
    write_series(lake, _points([0, 1], [0.5, 0.7]), name="long_short_ratio", **KEY)
    rows = lake.sql("select name, count(*), max(value) from series where symbol = 'XRP/USDT:USDT' "
                    "group by name order by name").fetchall()
    assert rows == [("long_short_ratio", 2, 0.7), ("open_interest", 48, 47.0)]


def test_the_change_marker_moves_when_a_series_gains_points_and_not_on_a_repeat(tmp_path: Path) -> None:
    store = Lake(tmp_path).numeric
    write_series(tmp_path, _points([0, 1]), name="s", **KEY)
    before = store.change_marker()
    write_series(tmp_path, _points([0, 1]), name="s", **KEY)  # nothing new: no file rewritten
    assert store.change_marker() == before
    folder = tmp_path / "_series" / "exchange=binanceusdm" / "symbol=XRP%2FUSDT%3AUSDT" / "name=s"
    os.utime(folder, ns=(0, 0))  # an old stamp: the next write's rename must move it, however fast it comes
    before = store.change_marker()
    write_series(tmp_path, _points([2]), name="s", **KEY)
    assert store.change_marker() != before and [key for key, _v in before] == [("binanceusdm", "XRP/USDT:USDT", "s")]
