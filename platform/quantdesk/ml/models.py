"""Models: a small protocol (`fit`, `predict`) and a registry of seeded scikit-learn and LightGBM ones.

`predict` returns one score per row: a regressor's prediction, or a classifier's
P(up) mapped to [-1, 1] (2p - 1), so a strategy maps any model's score to a target the same way.
Every built-in is seeded and single-threaded: the same data and seed give the same model, bit
for bit, which the model cache and replay parity rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from quantdesk.ml.errors import MLError

__all__ = ["MODELS", "Model", "make_model", "register_model"]


@runtime_checkable
class Model(Protocol):
    """What an ML strategy needs of a model; bring your own with `register_model`."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


class _Classifier:
    """A scikit-learn-style classifier fitted on the label's sign; scores 2 P(up) - 1."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Classifier:
        self.estimator.fit(x, (y > 0).astype(np.int64))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        classes = list(self.estimator.classes_)
        if classes == [1]:
            return np.ones(len(x))
        if classes == [0]:
            return -np.ones(len(x))
        return 2.0 * self.estimator.predict_proba(x)[:, classes.index(1)] - 1.0


def _lightgbm(seed: int) -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(n_estimators=100, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                         subsample=1.0, colsample_bytree=1.0, random_state=seed, n_jobs=1, verbose=-1,
                         deterministic=True, force_row_wise=True)


def _lightgbm_classifier(seed: int) -> Any:
    from lightgbm import LGBMClassifier

    return _Classifier(LGBMClassifier(n_estimators=100, learning_rate=0.05, num_leaves=15, random_state=seed,
                                      n_jobs=1, verbose=-1, deterministic=True, force_row_wise=True))


def _ridge(seed: int) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0, random_state=seed)


def _logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return _Classifier(LogisticRegression(C=1.0, max_iter=500, random_state=seed))


def _random_forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=50, max_depth=5, min_samples_leaf=10, random_state=seed, n_jobs=1)


def _hist_gbm(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.05, random_state=seed, early_stopping=False)


MODELS: dict[str, Callable[[int], Model]] = {
    "lightgbm": _lightgbm,
    "lightgbm_classifier": _lightgbm_classifier,
    "ridge": _ridge,
    "logistic": _logistic,
    "random_forest": _random_forest,
    "hist_gbm": _hist_gbm,
}


def register_model(name: str, factory: Callable[[int], Model]) -> None:
    """Register `factory(seed) -> Model` under `name` (its source joins the strategy's cache key
    only through the name: change the name when you change the model)."""
    MODELS[name] = factory


def make_model(name: str, seed: int) -> Model:
    """A fresh, seeded model from the registry; MLError naming the known ones on an unknown name."""
    if name not in MODELS:
        raise MLError(f"unknown model {name!r}; use one of {', '.join(sorted(MODELS))} "
                      "(or register your own with quantdesk.ml.register_model)")
    model = MODELS[name](seed)
    if not isinstance(model, Model):
        raise MLError(f"model {name!r} has no fit(x, y) and predict(x); give it both")
    return model
