"""The market page's sentiment columns: as of each bar's open, taker share summed over downsampled buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from quantdesk.desk.pages import market
from quantdesk.desk.sentiment import sentiment_columns
from quantdesk.lake import Lake, write_sample

T0 = datetime(2024, 1, 1, tzinfo=UTC)
KEY = {"exchange": "synthetic", "symbol": "BTC/USDT"}


def _bars(n: int, minutes: int) -> pl.DataFrame:
    return pl.DataFrame({"ts": [T0 + timedelta(minutes=minutes * i) for i in range(n)]}).with_columns(
        pl.col("ts").dt.cast_time_unit("ms"))


def test_each_bar_shows_the_newest_figure_known_at_its_open(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.numeric.write({"ts": [T0 + timedelta(minutes=10), T0 + timedelta(minutes=60)], "value": [100.0, 200.0]},
                       name="open_interest", **KEY)
    lake.funding.write({"ts": [T0 + timedelta(minutes=1)], "rate": [0.0001]}, **KEY)
    frame, missing = sentiment_columns(lake, bars=_bars(5, 15), timeframe="15m", **KEY)
    # bars open 00:00 00:15 00:30 00:45 01:00: nothing known at 00:00, the 00:10 snapshot until 01:00
    assert frame["open_interest"].to_list() == [None, 100.0, 100.0, 100.0, 200.0]
    assert frame["funding_rate"].to_list() == [None, 0.0001, 0.0001, 0.0001, 0.0001]
    assert missing == ["long_short_ratio", "taker_buy_share"]


def test_taker_buy_share_is_summed_over_each_shown_bar_from_the_finest_series(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    minutes = [T0 + timedelta(minutes=i) for i in range(10)]
    lake.numeric.write({"ts": minutes, "value": [1.0] * 5 + [3.0] * 5}, name="taker_buy_volume_1m", **KEY)
    lake.numeric.write({"ts": minutes, "value": [1.0] * 10}, name="taker_sell_volume_1m", **KEY)
    lake.numeric.write({"ts": [T0], "value": [99.0]}, name="taker_buy_volume_1h", **KEY)  # does not divide 5m
    frame, _missing = sentiment_columns(lake, bars=_bars(2, 5), timeframe="5m", **KEY)
    assert frame["taker_buy_share"].to_list() == [0.5, 0.75]


def test_the_market_snapshot_carries_mfi_and_says_what_sentiment_is_missing(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    write_sample(lake, symbols=1, days=1)
    data = market(lake, timeframe="1h", days=1, **KEY)
    assert data["frame"]["mfi14"].drop_nulls().is_between(0, 100).all() and data["frame"]["mfi14"].null_count() == 14
    assert data["sentiment_missing"] == ["funding_rate", "open_interest", "long_short_ratio", "taker_buy_share"]
