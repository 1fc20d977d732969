"""Upsert: idempotence, dedup, order-insensitivity, partitions, schema refusal, encoding."""

from __future__ import annotations

import random
import tempfile
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import LakeError, SchemaError
from quantdesk.lake import Lake, decode_symbol, encode_symbol
from quantdesk.lake.validation import CANDLE_SCHEMA
from tests.lake.lake_helpers import candles, checksums, make_lake, minute_sets, visible_files

SERIES = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m"}


@settings(max_examples=30, deadline=None)
@given(minutes=minute_sets, seed=st.integers(0, 1000))
def test_writing_the_same_rows_twice_changes_nothing(minutes: list[int], seed: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        lake = make_lake(Path(root))
        frame = candles(minutes, seed)
        first = lake.write(frame, **SERIES)
        before = checksums(Path(root))
        second = lake.write(frame, **SERIES)
        assert first.inserted == len(minutes) and first.quarantined == 0
        assert (second.inserted, second.updated, second.unchanged, second.files_written) == (0, 0, len(minutes), 0)
        assert checksums(Path(root)) == before
        stored = lake.candles("BTC/USDT", "1m")
        assert stored.schema == CANDLE_SCHEMA
        assert stored.equals(frame.sort("ts"))


@settings(max_examples=20, deadline=None)
@given(minutes=minute_sets, seed=st.integers(0, 1000), shuffle_seed=st.integers(0, 1000))
def test_row_order_does_not_change_the_files(minutes: list[int], seed: int, shuffle_seed: int) -> None:
    frame = candles(sorted(minutes), seed)
    order = list(range(frame.height))
    random.Random(shuffle_seed).shuffle(order)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        make_lake(Path(a)).write(frame, **SERIES)
        make_lake(Path(b)).write(frame[order], **SERIES)
        assert checksums(Path(a)) == checksums(Path(b))


@settings(max_examples=25, deadline=None)
@given(old=minute_sets, new=minute_sets, seed=st.integers(0, 1000))
def test_overlapping_writes_are_deduplicated_and_newer_values_win(old: list[int], new: list[int], seed: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        lake = make_lake(Path(root))
        first, second = candles(old, seed), candles(new, seed + 1)
        lake.write(first, **SERIES)
        report = lake.write(second, **SERIES)
        overlap = set(old) & set(new)
        assert report.inserted == len(set(new) - set(old))
        assert report.updated + report.unchanged == len(overlap)
        expected = pl.concat([first.join(second, on="ts", how="anti"), second]).sort("ts")
        stored = lake.candles("BTC/USDT", "1m")
        assert stored.equals(expected)
        assert stored.get_column("ts").is_unique().all()


def test_only_touched_months_are_rewritten(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    # 2024-01-30 .. 2024-03-02: files for January, February and March
    lake.write(candles(list(range(0, 32 * 1440, 30))), **SERIES)
    before = checksums(tmp_path)
    assert sorted(p.name for p in visible_files(tmp_path)) == ["2024-01.parquet", "2024-02.parquet", "2024-03.parquet"]
    changed = candles([10 * 1440], seed=99)  # one row in February, new values
    report = lake.write(changed, **SERIES)
    after = checksums(tmp_path)
    assert (report.updated, report.inserted, report.files_written) == (1, 0, 1)
    differing = [k for k in after if before.get(k) != after[k]]
    assert differing == [k for k in after if k.endswith("2024-02.parquet")]


def test_a_changed_value_counts_as_updated(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    frame = candles([0, 1, 2])
    lake.write(frame, **SERIES)
    bumped = frame.with_columns(volume=pl.when(pl.int_range(3) == 1).then(pl.col("volume") + 1).otherwise("volume"))
    report = lake.write(bumped, **SERIES)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)
    assert lake.candles("BTC/USDT", "1m").equals(bumped)


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (pl.DataFrame({"ts": [1], "open": [1.0]}), "missing columns"),
        (candles([0]).with_columns(pl.col("close").cast(pl.String)), "non-numeric"),
        (candles([0]).with_columns(pl.col("ts").dt.replace_time_zone(None)), "naive"),
        (candles([0]).with_columns((pl.col("ts").cast(pl.Int64) // 1000).alias("ts")), "seconds"),
        (candles([0]).with_columns(pl.col("ts").cast(pl.String)), "ts has type"),
        ({"ts": [1]}, "polars DataFrame"),
    ],
)
def test_malformed_input_is_refused_and_the_lake_is_untouched(tmp_path: Path, frame: object, words: str) -> None:
    lake = make_lake(tmp_path)
    lake.write(candles([0, 1]), **SERIES)
    before = checksums(tmp_path)
    with pytest.raises(SchemaError, match=words):
        lake.write(frame, **SERIES)
    assert checksums(tmp_path) == before


def test_int_ms_and_other_time_zones_are_converted(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    frame = candles([0, 1, 2])
    as_int = frame.with_columns(pl.col("ts").cast(pl.Int64))
    as_tokyo = frame.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Tokyo").dt.cast_time_unit("ns"))
    assert lake.write(as_int, **SERIES).inserted == 3
    assert lake.write(as_tokyo, **SERIES).unchanged == 3
    assert lake.candles("BTC/USDT", "1m").schema == CANDLE_SCHEMA == frame.schema


@pytest.mark.parametrize("symbol", ["BTC/USDT", "XRP/USDT:USDT", "BTC-PERP", "1000PEPE/USDT", "a b%2F"])
def test_symbols_are_encoded_reversibly(tmp_path: Path, symbol: str) -> None:
    assert decode_symbol(encode_symbol(symbol)) == symbol
    assert "/" not in encode_symbol(symbol)
    lake = make_lake(tmp_path)
    lake.write(candles([0, 1]), exchange="okx", symbol=symbol, timeframe="1m")
    assert lake.symbols() == [symbol]
    assert lake.candles(symbol, "1m").height == 2
    assert lake.sql("select distinct symbol from candles").fetchall() == [(symbol,)]


def test_the_exchange_is_inferred_only_when_unambiguous(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    lake.write(candles([0, 1]), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    assert lake.candles("BTC/USDT", "1m").height == 2
    lake.write(candles([0]), exchange="okx", symbol="BTC/USDT", timeframe="1m")
    with pytest.raises(LakeError, match=r"\['binance', 'okx'\]"):
        lake.candles("BTC/USDT", "1m")
    assert lake.candles("BTC/USDT", "1m", exchange="okx").height == 1
    with pytest.raises(LakeError, match="quantdesk sample"):
        lake.candles("ETH/USDT", "1m")


def test_start_and_end_select_a_half_open_range(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    frame = candles(list(range(10)))
    lake.write(frame, **SERIES)
    t0 = frame.get_column("ts")[0]
    got = lake.candles("BTC/USDT", "1m", start=t0 + timedelta(minutes=2), end=t0 + timedelta(minutes=5))
    assert got.get_column("ts").to_list() == frame.get_column("ts").to_list()[2:5]
    assert got.get_column("ts").to_list()[0] == t0 + timedelta(minutes=2)


def test_default_root_is_under_quantdesk_home(quantdesk_home: Path) -> None:
    assert Lake().root == quantdesk_home / "lake"
