"""The lookahead check: the built-ins pass it, a planted shift(-1) fails it at the right bar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from quantdesk.backtest import assert_no_lookahead, backtest, check_lookahead
from quantdesk.backtest.lookahead import sample_params
from quantdesk.core import LookaheadError
from quantdesk.strategies import Strategy, load_strategy, param, registry

SINGLE = ["sma_cross", "ema_cross", "rsi_reversion", "donchian_breakout", "bollinger_breakout",
          "buy_and_hold"]


class PeeksAhead(Strategy):
    """Long when the NEXT close is higher: uses the future through shift(-1)."""

    window = param(3, min=2, max=10)

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        return (close.shift(-1) > close).cast(pl.Float64).fill_null(0.0)


@pytest.mark.parametrize("name", SINGLE)
def test_builtins_pass_on_every_bar(name: str, make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(160, seed=4)
    cls = load_strategy(name)
    for values in [{}, *sample_params(cls, 2, seed=1)]:
        strategy = cls(**{**values, **({"short": True} if "short" in cls.params() else {})})
        verdict = check_lookahead(strategy, candles, samples=None)
        assert verdict.passed, verdict.message()
        assert len(verdict.checked_bars) == len(candles) - 1


def test_multi_asset_rotation_passes(make_candles: Callable[..., pl.DataFrame]) -> None:
    frames = {s: make_candles(120, seed=20 + i) for i, s in enumerate(["A", "B", "C"])}
    verdict = check_lookahead(load_strategy("momentum_rotation")(lookback=10, top=2), frames, samples=None)
    assert verdict.passed


def test_every_registered_builtin_is_checked() -> None:
    load_strategy("sma_cross")
    assert set(SINGLE) | {"momentum_rotation"} <= set(registry())


def test_planted_shift_fails_naming_the_first_offending_bar(make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(80, seed=5)
    close = candles["close"].to_numpy()
    expected = int(np.argmax(close[1:] > close[:-1]))  # first bar whose target uses a rise to come
    verdict = check_lookahead(PeeksAhead(), candles, samples=None)
    assert not verdict.passed
    assert verdict.first_bad_bar == expected
    assert verdict.first_bad_ts == candles["ts"][expected].isoformat()
    assert verdict.full_value == 1.0 and verdict.truncated_value == 0.0
    assert f"bar {expected}" in verdict.message() and "window" in verdict.message()
    with pytest.raises(LookaheadError, match=f"at bar {expected}"):
        assert_no_lookahead(PeeksAhead(window=4), candles, samples=None)


def test_sampled_check_also_catches_it_and_backtests_record_the_verdict(make_candles: Callable[..., pl.DataFrame]) -> None:
    candles = make_candles(200, seed=6)
    result = backtest(PeeksAhead(), candles, lookahead_samples=8, store=False)
    assert result.lookahead is not None and not result.lookahead.passed
    assert "looks ahead" in result.lookahead.detail
    clean = backtest("sma_cross", candles, lookahead_samples=8, store=False)
    assert clean.lookahead is not None and clean.lookahead.passed
    assert 1 <= len(clean.lookahead.checked_bars) <= 8
