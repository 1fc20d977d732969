"""Machine-learning strategies that cannot cheat (issue 27).

Features are polars expressions over candles (`features`), labels have an explicit horizon
(`labels`), models follow a two-method protocol (`models`), `MLStrategy` retrains on a rolling
or expanding window with the purge that keeps labels out of the future (`strategy`), and
`purged_kfold`/`cv_score` cross-validate the same way (`cv`). Trained models are cached and
hashed (`cache`), so a backtest repeats bit for bit and a deployment pins its model.
"""

from quantdesk.ml.cache import ModelCache, default_cache, model_key
from quantdesk.ml.cv import cv_score, purged_kfold
from quantdesk.ml.errors import MLError
from quantdesk.ml.features import (
    FeatureSource,
    feature_exprs,
    feature_matrix,
    feature_names,
    lookback_bars,
    register_feature,
    register_source,
)
from quantdesk.ml.importance import permutation_importance
from quantdesk.ml.labels import forward_return, forward_sign, make_labels, triple_barrier
from quantdesk.ml.models import MODELS, Model, make_model, register_model
from quantdesk.ml.sources import LakeSeries, use_lake_series
from quantdesk.ml.strategy import DEFAULT_FEATURES, MLStrategy, Training
from quantdesk.strategies.base import (
    param,  # so a file strategy imports everything from quantdesk.ml
)

__all__ = [
    "DEFAULT_FEATURES",
    "MODELS",
    "FeatureSource",
    "LakeSeries",
    "MLError",
    "MLStrategy",
    "Model",
    "ModelCache",
    "Training",
    "cv_score",
    "default_cache",
    "feature_exprs",
    "feature_matrix",
    "feature_names",
    "forward_return",
    "forward_sign",
    "lookback_bars",
    "make_labels",
    "make_model",
    "model_key",
    "param",
    "permutation_importance",
    "purged_kfold",
    "register_feature",
    "register_model",
    "register_source",
    "triple_barrier",
    "use_lake_series",
]
