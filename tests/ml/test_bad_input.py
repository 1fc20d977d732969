"""Bad ML input: one-line errors that name the fix, and nothing half-written stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdesk.core.errors import StrategyError
from quantdesk.ml import MLError, MLStrategy, ModelCache, register_model


def _error(**params: object) -> str:
    with pytest.raises(MLError) as e:
        MLStrategy(**params)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_window_with_fewer_samples_than_features() -> None:
    assert "set train_window above 11" in _error(train_window=10, horizon=2)


def test_a_label_horizon_not_below_the_window() -> None:
    assert "set train_window above 50" in _error(train_window=50, horizon=50, features="ret_1")


def test_unknown_feature_and_model_names() -> None:
    message = _error(features="ret_1,rsi_fourteen")
    assert "unknown feature 'rsi_fourteen'" in message and "rsi_N" in message
    message = _error(model="xgboost")
    assert "unknown model 'xgboost'" in message and "lightgbm" in message
    assert "unknown feature source" in _error(features="src_nowhere")
    with pytest.raises(StrategyError, match="not one of"):
        MLStrategy(label="direction")


class _Broken:
    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        raise ValueError("singular matrix")

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x))


def test_a_model_that_fails_to_fit_stores_nothing(candles: pl.DataFrame, fresh_model_cache: ModelCache,
                                                  quantdesk_home: Path) -> None:
    register_model("test_broken", lambda seed: _Broken())
    s = MLStrategy(model="test_broken", train_window=200, retrain_every=50, horizon=4)
    with pytest.raises(MLError) as e:
        s.target(candles)
    assert "model 'test_broken' failed to fit" in str(e.value) and "singular matrix" in str(e.value)
    assert "\n" not in str(e.value)
    assert fresh_model_cache.stats.trained == 0
    assert not list(fresh_model_cache.directory.glob("*")) if fresh_model_cache.directory.exists() else True


def test_a_failing_ml_backtest_stores_no_run(candles: pl.DataFrame, quantdesk_home: Path) -> None:
    from quantdesk.backtest.engine import backtest
    from quantdesk.backtest.store import list_runs

    register_model("test_broken", lambda seed: _Broken())
    with pytest.raises(MLError):
        backtest(MLStrategy, candles, params={"model": "test_broken", "train_window": 200, "retrain_every": 50},
                 timeframe="1h")
    assert list_runs().is_empty()
