"""MLStrategy: the purge rule, the model cache's bit-identical reuse, and the lookahead check's two planted leaks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from quantdesk.backtest.lookahead import check_lookahead, target_matrix
from quantdesk.ml import MLStrategy, ModelCache, register_feature
from tests.ml.conftest import make_candles

FAST = {"model": "ridge", "train_window": 200, "retrain_every": 50, "horizon": 4}


def test_every_model_used_at_bar_t_was_fitted_on_labels_that_ended_by_t(candles: pl.DataFrame) -> None:
    for embargo in (0, 3):
        s = MLStrategy(**FAST, embargo=embargo)
        s.target(candles)
        assert len(s.trainings) >= 10
        for t in s.trainings:
            # the last sample's label ends at last_sample + horizon: at or before the retrain bar, plus the embargo
            assert t.last_sample + s.horizon + embargo <= t.bar
            assert t.samples == s.train_window  # a rolling window, always full
        bars = [t.bar for t in s.trainings]
        assert all(b - a == 50 for a, b in zip(bars, bars[1:], strict=False))


def test_expanding_windows_grow(candles: pl.DataFrame) -> None:
    s = MLStrategy(**FAST, expanding=True)
    s.target(candles)
    sizes = [t.samples for t in s.trainings]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert {t.first_sample for t in s.trainings} == {s.trainings[0].first_sample}


def test_targets_are_decided_from_a_model_and_lie_in_range(candles: pl.DataFrame) -> None:
    out = MLStrategy(**FAST).target(candles).to_numpy()
    assert set(np.unique(out)) <= {-1.0, 0.0, 1.0}
    first = MLStrategy(**FAST)
    first.target(candles)
    assert (out[: first.trainings[0].bar] == 0).all() and (out[first.trainings[0].bar:] != 0).any()
    long_only = MLStrategy(**FAST, long_only=True).target(candles).to_numpy()
    assert (long_only >= 0).all() and np.array_equal(long_only, np.maximum(out, 0))


@pytest.mark.parametrize("model", ["lightgbm", "ridge", "lightgbm_classifier", "random_forest"])
def test_a_second_backtest_reuses_the_cached_models_bit_for_bit(candles: pl.DataFrame, model: str,
                                                                 fresh_model_cache: ModelCache) -> None:
    params = {**FAST, "model": model, "label": "sign" if "classifier" in model else "return"}
    first = MLStrategy(**params)
    a = first.scores(candles)
    trained = fresh_model_cache.stats.trained
    assert trained == len(first.trainings) > 0
    fresh_model_cache.clear_memory()  # a new process: models come back from disk
    second = MLStrategy(**params)
    b = second.scores(candles)
    assert fresh_model_cache.stats.trained == trained, "nothing retrained"
    assert fresh_model_cache.stats.disk_hits == trained
    assert np.array_equal(a, b, equal_nan=True)  # bit-identical, not approximately
    assert [t.artifact for t in first.trainings] == [t.artifact for t in second.trainings]
    # another threshold reuses the same models (the threshold is not a model parameter)
    MLStrategy(**params, threshold=0.5).target(candles)
    assert fresh_model_cache.stats.trained == trained


def test_a_different_seed_or_window_trains_anew(candles: pl.DataFrame, fresh_model_cache: ModelCache) -> None:
    MLStrategy(**{**FAST, "model": "lightgbm"}).target(candles)
    n = fresh_model_cache.stats.trained
    MLStrategy(**{**FAST, "model": "lightgbm"}, seed=1).target(candles)
    assert fresh_model_cache.stats.trained == 2 * n
    MLStrategy(**{**FAST, "model": "lightgbm"}).target(make_candles(seed=4))
    assert fresh_model_cache.stats.trained == 3 * n


def test_a_clean_ml_strategy_passes_the_lookahead_check(candles: pl.DataFrame) -> None:
    for params in (FAST, {**FAST, "model": "lightgbm", "label": "triple_barrier", "embargo": 2}):
        verdict = check_lookahead(MLStrategy(**params), candles, samples=8)
        assert verdict.passed, verdict.message()


def test_a_training_window_whose_labels_cross_the_prediction_bar_is_lookahead(candles: pl.DataFrame) -> None:
    leaky = MLStrategy(**FAST, purge=False)
    verdict = check_lookahead(leaky, candles, samples=8)
    assert not verdict.passed
    retrains = set(leaky.lookahead_bars(candles))
    assert verdict.truncated_at in retrains, "found where it hides: at a retrain bar"


def test_a_feature_using_shift_minus_one_is_lookahead(candles: pl.DataFrame) -> None:
    register_feature("test_peek", lambda: pl.col("close").shift(-1) / pl.col("close") - 1.0)
    verdict = check_lookahead(MLStrategy(**FAST, features="ret_1,test_peek,vol_12"), candles, samples=8)
    assert not verdict.passed and "looks ahead" in verdict.message()


def test_the_trailing_warmup_window_gives_the_backtests_features_and_targets(candles: pl.DataFrame) -> None:
    """DESIGN contract 4: live computes target() on the trailing `warmup` bars; it must agree with the backtest."""
    long = make_candles(1400)
    s = MLStrategy(**FAST)
    full = target_matrix(s, {"a": long})[:, 0]
    from quantdesk.ml import feature_matrix, feature_names

    names = feature_names(s.features)
    x_full = feature_matrix(long, names)
    for t in (s.warmup + 10, 1100, 1399):
        window = long.slice(t - s.warmup + 1, s.warmup)
        x_win = feature_matrix(window, names)
        np.testing.assert_allclose(x_win[-1], x_full[t], rtol=0, atol=1e-12)
        assert s.target(window).to_numpy()[-1] == full[t]
