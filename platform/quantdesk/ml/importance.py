"""Permutation importance of an ML strategy's features, measured out of sample.

Each bar's prediction comes from the model retrained before it (never one that saw the bar's
label), so shuffling one feature across those bars and re-predicting with the same models
shows how much of the out-of-sample edge that feature carries. The score is the mean
directional return, sign(prediction) x forward return; importance = baseline - shuffled.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantdesk.ml.features import feature_matrix, feature_names, frame_checksum
from quantdesk.ml.labels import forward_return

__all__ = ["permutation_importance"]


def permutation_importance(strategy: Any, candles: pl.DataFrame, *, repeats: int = 2, seed: int = 0,
                           last_models: int = 8) -> pl.DataFrame:
    """One row per feature: `importance` (mean drop of the OOS score) and its `std` over `repeats` shuffles.

    Measured over the bars the `last_models` models predicted (the recent regime, and a bounded
    cost: features x repeats x models predictions).
    """
    from quantdesk.ml.cache import default_cache

    names = feature_names(strategy.features)
    empty = pl.DataFrame({"feature": list(names), "importance": [float("nan")] * len(names),
                          "std": [float("nan")] * len(names)})
    strategy.scores(candles)  # the trainings of this history (cached models: no refit)
    x = feature_matrix(candles, names)
    fwd = forward_return(candles["close"].to_numpy(), strategy.horizon)
    n = len(candles)
    segments = []  # (model, rows)
    bars = [t.bar for t in strategy.trainings] + [n]
    cache = default_cache()
    for t, end in list(zip(strategy.trainings, bars[1:], strict=False))[-last_models:]:
        rows = np.arange(t.bar, end)
        rows = rows[np.isfinite(x[rows]).all(axis=1) & np.isfinite(fwd[rows])]
        hit = cache.get(t.key)
        if len(rows) and hit is not None:
            segments.append((hit[0], rows))
    if not segments:
        return empty
    rows_all = np.concatenate([r for _, r in segments])
    # the same models on the same bars give the same importances: stored beside the models, so a
    # second backtest (or a new process) reads them instead of re-predicting features x repeats times
    used = [t.key for t in strategy.trainings][-last_models:]
    memo_key = hashlib.sha256(repr((used, frame_checksum(candles), names, strategy.horizon, repeats, seed,
                                    last_models)).encode()).hexdigest()
    memo = cache.directory / f"importance-{memo_key}.parquet"
    if memo.exists():
        return pl.read_parquet(memo)

    def score(matrix: np.ndarray) -> float:
        pred = np.concatenate([np.asarray(m.predict(matrix[r]), dtype=np.float64) for m, r in segments])
        return float(np.mean(np.sign(pred) * fwd[rows_all]))

    base = score(x)
    rng = np.random.default_rng(seed)
    out_mean, out_std = [], []
    for j in range(len(names)):
        drops = []
        for _ in range(repeats):
            shuffled = np.array(x)
            shuffled[rows_all, j] = shuffled[rng.permutation(rows_all), j]
            drops.append(base - score(shuffled))
        out_mean.append(float(np.mean(drops)))
        out_std.append(float(np.std(drops)))
    out = pl.DataFrame({"feature": list(names), "importance": out_mean, "std": out_std}).sort(
        "importance", descending=True)
    _write_atomically(out, memo)
    return out


def _write_atomically(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
