"""Queries over the lake: the DuckDB view, coverage, gaps (reported, never filled)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from quantdesk.core.errors import LakeError
from tests.lake.lake_helpers import candles, make_lake


def _filled(tmp_path: Path):
    lake = make_lake(tmp_path)
    minutes = [m for m in range(3 * 1440) if not 100 <= m < 110 and m != 2000]  # two gaps
    lake.write(candles(minutes), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    lake.write(candles(list(range(50))), exchange="okx", symbol="XRP/USDT:USDT", timeframe="1m")
    return lake, minutes


def test_sql_sees_every_series_with_decoded_keys(tmp_path: Path) -> None:
    lake, minutes = _filled(tmp_path)
    rows = lake.sql(
        "select exchange, symbol, timeframe, count(*), min(ts) < max(ts) from candles group by all order by 1"
    ).fetchall()
    assert rows == [("binance", "BTC/USDT", "1m", len(minutes), True), ("okx", "XRP/USDT:USDT", "1m", 50, True)]
    columns = lake.sql("select * from candles limit 1").columns
    assert columns == ["exchange", "symbol", "timeframe", "ts", "open", "high", "low", "close", "volume"]
    lake.write(candles([5000]), exchange="okx", symbol="XRP/USDT:USDT", timeframe="1m")
    assert lake.sql("select count(*) from candles where exchange = 'okx'").fetchall() == [(51,)]


def test_sql_on_an_empty_lake_and_bad_sql(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    assert lake.sql("select count(*) from candles").fetchall() == [(0,)]
    assert lake.sql("select count(*) from quarantine").fetchall() == [(0,)]
    with pytest.raises(LakeError, match="DuckDB refused"):
        lake.sql("select nope from candles")


def test_gaps_and_coverage_report_missing_bars(tmp_path: Path) -> None:
    lake, minutes = _filled(tmp_path)
    gaps = lake.gaps("BTC/USDT", "1m")
    t0 = lake.candles("BTC/USDT", "1m").get_column("ts")[0]
    assert gaps.get_column("missing_bars").to_list() == [10, 1]
    assert gaps.row(0, named=True)["start"] == t0 + timedelta(minutes=100)
    assert gaps.row(0, named=True)["end"] == t0 + timedelta(minutes=110)
    assert lake.candles("BTC/USDT", "1m").height == len(minutes)  # nothing filled
    coverage = lake.coverage().filter(pl.col("exchange") == "binance").row(0, named=True)
    assert (coverage["rows"], coverage["gaps"], coverage["missing_bars"]) == (len(minutes), 2, 11)
    assert coverage["first"] == t0 and coverage["synthetic"] is False
    assert lake.exchanges() == ["binance", "okx"]
    assert lake.symbols("okx") == ["XRP/USDT:USDT"]
    hourly_gaps = lake.gaps("BTC/USDT", "1h")  # the incomplete hours are gaps of the 1h series
    assert hourly_gaps.get_column("missing_bars").sum() == 2
