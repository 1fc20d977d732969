"""Lake series as ML features: a value is used only from the bar during which it was observed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdesk.core.errors import LakeError
from quantdesk.lake import write_series
from quantdesk.ml import LakeSeries, feature_matrix, use_lake_series

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _hours(*h: float) -> list[datetime]:
    return [T0 + timedelta(hours=x) for x in h]


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    # stamped inside bar 0, exactly at bar 0's close, late in bar 3, and after the last bar closes
    frame = pl.DataFrame({"ts": _hours(0.5, 1.0, 3.99, 6.0), "value": [1.0, 2.0, 3.0, 4.0]})
    write_series(root, frame, exchange="binanceusdm", symbol="BTC/USDT:USDT", name="open_interest")
    return root


def _bars(*h: float) -> pl.Series:
    return pl.Series("ts", _hours(*h), dtype=pl.Datetime("ms", "UTC"))


def test_each_bar_sees_the_latest_value_observed_before_it_closed(lake: Path) -> None:
    source = LakeSeries("binanceusdm", "BTC/USDT:USDT", "open_interest", lake)
    values = source(_bars(-1, 0, 1, 2, 3, 4, 5)).to_list()
    # bar -1 closes at 00:00, before any observation; the 01:00 value waits for bar 1; 06:00 is never seen
    assert values == [None, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0]


def test_a_bar_s_value_does_not_change_when_later_bars_are_cut(lake: Path) -> None:
    source = LakeSeries("binanceusdm", "BTC/USDT:USDT", "open_interest", lake)
    full = source(_bars(0, 1, 2, 3, 4, 5)).to_list()
    for k in range(2, 6):
        assert source(_bars(*range(k))).to_list() == full[:k]


def test_src_feature_reads_the_lake_series_in_a_feature_matrix(lake: Path) -> None:
    name = use_lake_series("oi_test", "binanceusdm", "BTC/USDT:USDT", "open_interest", root=lake)
    n = 6
    candles = pl.DataFrame({"ts": _bars(*range(n)), "open": [1.0] * n, "high": [1.0] * n, "low": [1.0] * n,
                            "close": [1.0] * n, "volume": [1.0] * n})
    matrix = feature_matrix(candles, (name,))
    np.testing.assert_array_equal(matrix[:, 0], [1.0, 2.0, 2.0, 3.0, 3.0, 3.0])


def test_an_unknown_series_names_the_stored_ones(lake: Path) -> None:
    with pytest.raises(LakeError, match="open_interest"):
        LakeSeries("binanceusdm", "BTC/USDT:USDT", "open_intrest", lake)(_bars(0, 1))
