"""Parser unit tests: Binance kline CSV/ZIP (ms and µs), freqtrade JSON/feather, generic CSV/Parquet."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core.errors import ImportFormatError
from quantdesk.ingest.importers import (
    ImportFormat,
    infer_timeframe,
    parse_binance_name,
    parse_freqtrade_name,
    read_candle_file,
    to_utc_ms,
)

T0_MS = 1_704_067_200_000  # 2024-01-01T00:00Z


def _kline_rows(n: int, *, scale: int = 1, step_ms: int = 60_000) -> list[str]:
    rows = []
    for i in range(n):
        open_ms = T0_MS + i * step_ms
        price = 100 + i
        rows.append(
            f"{open_ms * scale},{price},{price + 2},{price - 1},{price + 1},{10 + i},"
            f"{(open_ms + step_ms - 1) * scale},1000.0,42,5.0,500.0,0"
        )
    return rows


def _expected_ts(n: int, step_ms: int = 60_000) -> list[datetime]:
    return [datetime.fromtimestamp((T0_MS + i * step_ms) / 1000, UTC) for i in range(n)]


@pytest.mark.parametrize("scale", [1, 1000], ids=["milliseconds", "microseconds"])
def test_binance_csv_reads_ms_and_us_timestamps(tmp_path: Path, scale: int) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    path.write_text("\n".join(_kline_rows(5, scale=scale)) + "\n")
    got = read_candle_file(path)
    assert got.format is ImportFormat.BINANCE_CSV
    assert (got.symbol, got.timeframe) == ("BTC/USDT", "1m")
    assert got.frame["ts"].to_list() == _expected_ts(5)
    assert got.frame["open"].to_list() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert got.frame.schema == pl.Schema(
        {"ts": pl.Datetime("ms", "UTC"), "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
         "close": pl.Float64, "volume": pl.Float64}
    )  # fmt: skip


def test_binance_zip_with_header_row(tmp_path: Path) -> None:
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    path = tmp_path / "ETHUSDT-5m-2024-01-02.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "ETHUSDT-5m-2024-01-02.csv", "\n".join([header, *_kline_rows(3, step_ms=300_000)])
        )
    got = read_candle_file(path)
    assert (got.format, got.symbol, got.timeframe) == (ImportFormat.BINANCE_CSV, "ETH/USDT", "5m")
    assert got.frame["ts"].to_list() == _expected_ts(3, 300_000)


def test_binance_csv_with_unknown_pair_needs_symbol(tmp_path: Path) -> None:
    path = tmp_path / "klines.csv"
    path.write_text("\n".join(_kline_rows(3)))
    with pytest.raises(ImportFormatError, match="--symbol"):
        read_candle_file(path)
    assert read_candle_file(path, symbol="FOO/BAR").timeframe == "1m"  # inferred from spacing


def test_freqtrade_json_gz_and_feather_agree(tmp_path: Path) -> None:
    rows = [[T0_MS + i * 300_000, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 10.0] for i in range(4)]
    gz = tmp_path / "XRP_USDT_USDT-5m-futures.json.gz"
    gz.write_bytes(gzip.compress(json.dumps(rows).encode()))
    from_json = read_candle_file(gz)
    assert (from_json.symbol, from_json.timeframe, from_json.candle_type) == (
        "XRP/USDT:USDT",
        "5m",
        "futures",
    )
    feather = tmp_path / "XRP_USDT_USDT-5m-futures.feather"
    from_json.frame.rename({"ts": "date"}).with_columns(
        pl.col("date").dt.cast_time_unit("ns")
    ).write_ipc(feather)
    from_feather = read_candle_file(feather)
    assert from_feather.format is ImportFormat.FREQTRADE_FEATHER
    assert from_feather.frame.equals(from_json.frame)


def test_generic_csv_with_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "when,o,h,l,c,qty\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n2024-01-01T01:00:00Z,1.5,2,1,1.8,4\n"
    )
    mapping = {"ts": "when", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "qty"}
    got = read_candle_file(path, symbol="SOL/USDT", mapping=mapping)
    assert (got.format, got.timeframe) == (ImportFormat.CSV, "1h")
    assert got.frame["close"].to_list() == [1.5, 1.8]
    with pytest.raises(ImportFormatError, match="--map volume="):
        read_candle_file(path, symbol="SOL/USDT", mapping={"ts": "when"})


def test_generic_parquet_default_column_names(tmp_path: Path) -> None:
    path = tmp_path / "candles.parquet"
    pl.DataFrame(
        {"timestamp": [T0_MS, T0_MS + 60_000], "open": [1.0, 2.0], "high": [2.0, 3.0],
         "low": [0.5, 1.5], "close": [1.5, 2.5], "volume": [1.0, 1.0]}
    ).write_parquet(path)  # fmt: skip
    got = read_candle_file(path, symbol="BTC/USDT", timeframe="1m")
    assert got.format is ImportFormat.PARQUET
    assert got.frame["ts"].to_list() == _expected_ts(2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ETH_BTC-5m.json", b"", "empty"),
        ("ETH_BTC-5m.feather", b"", "empty"),
        ("NOPAIR_XXX-4m.json", b"[]", "empty JSON array"),
        ("ETH_BTC-5m.json", b"{not json", "not valid JSON"),
        ("candles.xlsx", b"PK..", "unknown file format"),
    ],
)
def test_bad_files_give_clear_messages(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFormatError, match=message):
        read_candle_file(path)


def test_timeframe_mismatch_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    rows = [[T0_MS + i * 60_000, 1.0, 2.0, 0.5, 1.5, 1.0] for i in range(10)]
    path = tmp_path / "UNITTEST_BTC-8m.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(ImportFormatError, match="--timeframe 1m"):
        read_candle_file(path)
    assert read_candle_file(path, timeframe="1m").frame.height == 10


def test_gap_fillers_are_counted_and_optionally_dropped(tmp_path: Path) -> None:
    rows = [
        [T0_MS, 1.0, 2.0, 0.5, 1.5, 3.0],
        [T0_MS + 60_000, 1.5, 1.5, 1.5, 1.5, 0.0],  # filler: flat at the previous close, no volume
        [T0_MS + 120_000, 1.5, 1.9, 1.4, 1.6, 2.0],
    ]
    path = tmp_path / "XRP_ETH-1m.json"
    path.write_text(json.dumps(rows))
    kept = read_candle_file(path)
    assert (kept.frame.height, kept.filler_rows) == (3, 1)
    dropped = read_candle_file(path, drop_fillers=True)
    assert dropped.frame["ts"].to_list() == [_expected_ts(3)[0], _expected_ts(3)[2]]


def test_file_names() -> None:
    assert parse_freqtrade_name("ETH_BTC-5m.json") == ("ETH/BTC", "5m", "spot")
    assert parse_freqtrade_name("XRP_USDT_USDT-8h-mark.feather") == ("XRP/USDT:USDT", "8h", "mark")
    assert parse_freqtrade_name("ETHBTC.json") is None
    assert parse_binance_name("BTCFDUSD-1h-2025-03.zip") == ("BTC/FDUSD", "1h")
    assert parse_binance_name("ETH_BTC-5m.json") is None


_PER_MS = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}


@given(
    ms=st.integers(min_value=1_000_000_000_000, max_value=4_000_000_000_000),
    unit=st.sampled_from(sorted(_PER_MS)),
    as_float=st.booleans(),
)
def test_timestamp_magnitude_detection(ms: int, unit: str, as_float: bool) -> None:
    """The same instant in s, ms, µs or ns reads as the same millisecond (seconds lose the sub-second)."""
    per_ms = _PER_MS[unit]
    raw = ms // 1000 if per_ms is None else ms * per_ms
    expect = ms - ms % 1000 if per_ms is None else ms
    series = pl.Series("t", [raw], dtype=pl.Float64 if as_float and unit != "ns" else pl.Int64)
    assert to_utc_ms(series).cast(pl.Int64).to_list() == [expect]


def test_infer_timeframe_uses_most_common_spacing() -> None:
    ts = pl.Series("ts", [T0_MS, T0_MS + 300_000, T0_MS + 600_000, T0_MS + 1_800_000]).cast(
        pl.Datetime("ms", "UTC")
    )
    assert infer_timeframe(pl.DataFrame({"ts": ts})) == "5m"
