"""Purged k-fold cross-validation (López de Prado, Advances in Financial Machine Learning, ch. 7).

Sample i's label spans `horizon` bars counting its own: [i, i + horizon - 1] (a "3-bar label").
A training sample whose label interval overlaps a test fold's labels ([a, b + horizon - 1] for a
fold of samples a..b) is purged, and so are the `embargo` samples after that (their features
overlap the test period's serially correlated returns). Folds are contiguous and in time order,
never shuffled. A forward return close[i] -> close[i+h] spans bars i..i+h: pass horizon=h+1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from quantdesk.ml.errors import MLError
from quantdesk.ml.models import Model

__all__ = ["cv_score", "purged_kfold"]


def purged_kfold(n: int, k: int, horizon: int, embargo: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (train, test) index arrays for `k` contiguous folds over `n` samples.

    Train excludes every i whose label [i, i + horizon - 1] overlaps the test labels'
    span [a, b + horizon - 1] (a - horizon + 1 <= i <= b + horizon - 1; the test fold itself
    included), and the `embargo` samples after that span.
    """
    if k < 2 or k > n:
        raise MLError(f"purged_kfold needs 2 <= k <= n samples, got k={k}, n={n}; choose k between 2 and {n}")
    if horizon < 1 or embargo < 0:
        raise MLError(f"horizon ({horizon}) must be >= 1 bar and embargo ({embargo}) >= 0")
    idx = np.arange(n)
    for test in np.array_split(idx, k):
        a, b = int(test[0]), int(test[-1])
        drop = (idx >= a - horizon + 1) & (idx <= b + horizon - 1 + embargo)
        yield idx[~drop], test


def cv_score(make: Callable[[], Model], x: np.ndarray, y: np.ndarray, *, k: int = 5, horizon: int, embargo: int = 0,
             score: Callable[[np.ndarray, np.ndarray], float] | None = None) -> np.ndarray:
    """Score a fresh model per purged fold; return the k scores (default: sign hit rate of the predictions).

    Rows with a NaN feature or label are dropped first (the indices stay the bars' own, so
    purging still follows the label intervals).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
    score = score or (lambda truth, pred: float(np.mean(np.sign(pred) == np.sign(truth))))
    out = []
    for train, test in purged_kfold(len(y), k, horizon, embargo):
        train, test = train[ok[train]], test[ok[test]]
        if len(train) == 0 or len(test) == 0:
            out.append(np.nan)
            continue
        model = make()
        model.fit(x[train], y[train])
        out.append(score(y[test], np.asarray(model.predict(x[test]), dtype=np.float64)))
    return np.asarray(out)
