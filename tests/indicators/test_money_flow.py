"""MFI, OBV and A/D: TA-Lib's own figures, with the warm-up as null, on random walks and real candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import accumulation_distribution, mfi, obv
from quantdesk.indicators.cache import indicator_cache


def _bars(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(size=n))
    return {"high": close + rng.random(n), "low": close - rng.random(n), "close": close,
            "volume": rng.uniform(0, 1000, n)}


def _same(ours: pl.Series, theirs: np.ndarray) -> None:
    assert ours.dtype == pl.Float64 and len(ours) == len(theirs)
    assert ours.is_null().to_list() == np.isnan(theirs).tolist()  # warm-up: null where TA-Lib says NaN
    np.testing.assert_array_equal(ours.drop_nulls().to_numpy(), theirs[~np.isnan(theirs)])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), period=st.integers(2, 40), seed=st.integers(0, 10_000))
def test_money_flow_equals_talib_bit_for_bit(n: int, period: int, seed: int) -> None:
    b = _bars(n, seed)
    cols = {k: pl.Series(k, v) for k, v in b.items()}
    _same(mfi(cols["high"], cols["low"], cols["close"], cols["volume"], period),
          talib.MFI(b["high"], b["low"], b["close"], b["volume"], timeperiod=period))
    _same(obv(cols["close"], cols["volume"]), talib.OBV(b["close"], b["volume"]))
    _same(accumulation_distribution(cols["high"], cols["low"], cols["close"], cols["volume"]),
          talib.AD(b["high"], b["low"], b["close"], b["volume"]))


def test_on_real_candles_mfi_is_bounded_and_obv_moves_by_the_bar_volume(shared_data: Path) -> None:
    frame = pl.read_ipc(shared_data / "freqtrade-testdata" / "ETH_BTC-5m.feather")
    money = mfi(frame["high"], frame["low"], frame["close"], frame["volume"], 14)
    expected = talib.MFI(*(frame[c].to_numpy().astype(np.float64) for c in ("high", "low", "close", "volume")), 14)
    _same(money, expected)
    assert money.drop_nulls().is_between(0, 100).all() and money.null_count() == 14
    steps = obv(frame["close"], frame["volume"]).diff().drop_nulls().abs()
    moved = frame["close"].diff().drop_nulls() != 0
    assert np.allclose(steps.filter(moved).to_numpy(), frame["volume"][1:].filter(moved).to_numpy())


def test_bad_inputs_name_the_fix_and_a_sweep_computes_each_once() -> None:
    b = _bars(50, 1)
    with pytest.raises(StrategyError, match="mfi period 1 must be an integer >= 2"):
        mfi(b["high"], b["low"], b["close"], b["volume"], 1)
    with pytest.raises(StrategyError, match="obv needs inputs of one length, got 50, 49"):
        obv(b["close"], b["volume"][:-1])
    with indicator_cache() as stats:
        first = mfi(pl.Series(b["high"]), pl.Series(b["low"]), pl.Series(b["close"]), pl.Series(b["volume"]), 14)
        again = mfi(pl.Series(b["high"]), pl.Series(b["low"]), pl.Series(b["close"]), pl.Series(b["volume"]), 14)
    assert again is first and stats.hits == 1
