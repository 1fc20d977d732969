"""Features (expressions, columns, other series) and labels with hand-worked values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from quantdesk.ml import (
    MLError,
    feature_matrix,
    feature_names,
    forward_return,
    forward_sign,
    register_source,
    triple_barrier,
)


def test_forward_labels_end_h_bars_later_and_are_unknown_at_the_end() -> None:
    close = np.array([100.0, 110.0, 99.0, 99.0, 121.0])
    np.testing.assert_allclose(forward_return(close, 2)[:3], [-0.01, -0.1, 121 / 99 - 1])
    assert np.isnan(forward_return(close, 2)[3:]).all()
    np.testing.assert_array_equal(forward_sign(close, 2)[:3], [-1.0, -1.0, 1.0])


def test_triple_barrier_takes_the_first_barrier_touched() -> None:
    close = np.array([100.0, 103.0, 97.0, 100.5, 100.0, 100.0])
    # bar 0: +3 % touched at bar 1 before -3 % at bar 2 -> +1; bar 1: -5.8 % at bar 2 -> -1;
    # bar 2: +3.6 % at bar 3 -> +1; bar 3: no touch within 2 bars, vertical barrier sign(100/100.5 - 1) -> -1
    np.testing.assert_array_equal(triple_barrier(close, 2, up=0.03, down=0.03)[:4], [1.0, -1.0, 1.0, -1.0])
    assert np.isnan(triple_barrier(close, 2, up=0.03, down=0.03)[4:]).all()


def test_features_from_columns_and_registered_series(candles: pl.DataFrame) -> None:
    funding = candles.select("ts", (pl.int_range(pl.len()) * 1e-4).alias("rate"))

    def source(ts: pl.Series) -> pl.Series:  # an as-of join: the last observation at or before each bar
        return ts.to_frame("ts").join_asof(funding, on="ts")["rate"]

    register_source("test_funding", source)
    framed = candles.with_columns((pl.col("close") * 2).alias("other_close"))
    x = feature_matrix(framed, feature_names("col_other_close,src_test_funding,ret_1"))
    np.testing.assert_array_equal(x[:, 0], framed["other_close"].to_numpy())
    np.testing.assert_allclose(x[:, 1], np.arange(len(candles)) * 1e-4)
    assert np.isnan(x[0, 2]) and x[1, 2] == pytest.approx(candles["close"][1] / candles["close"][0] - 1)
    assert not x.flags.writeable  # shared by every caller of the memo: read-only


def test_feature_list_errors() -> None:
    for spec, fragment in (("", "at least one feature"), ("ret_1,ret_1", "repeat"), ("ret_0", "unknown feature")):
        with pytest.raises(MLError, match=fragment):
            feature_names(spec)
