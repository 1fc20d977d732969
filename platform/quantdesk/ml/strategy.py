"""MLStrategy: a Strategy whose target comes from a model retrained on a rolling or expanding window.

The contract is every strategy's (DESIGN.md, contracts 2 and 4): `target(candles)` in [-1, 1]
per bar, decided at that bar's close from bars up to it. What keeps a model honest:

- Retrain points are anchored to bar time (`ts // timeframe % retrain_every == 0`), not to where
  the history starts, so a backtest, a truncated lookahead check and the live runner's trailing
  window retrain at the same bars on the same samples.
- The model used at bar t was fitted at the last retrain point r <= t on samples i whose label
  ended at or before r: i + horizon + embargo <= r (purge = horizon, plus the embargo). A
  rolling window takes the last `train_window` such samples; `expanding=True` takes all of them.
- Fitted models are cached by (code hash, model parameters, training-window checksum)
  (`quantdesk.ml.cache`): a second backtest, a sweep's other thresholds and the lookahead check's
  truncations reuse them, and predict bit for bit the same.

`purge=False` exists only so tests and notebooks can plant the classic leak (a window whose
labels cross the prediction bar); `quantdesk check lookahead` reports it.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from quantdesk.ml import cache as cache_mod
from quantdesk.ml.errors import MLError
from quantdesk.ml.features import feature_matrix, feature_names, lookback_bars
from quantdesk.ml.labels import LABELS, make_labels
from quantdesk.ml.models import MODELS, make_model
from quantdesk.strategies.base import Strategy, param

__all__ = ["DEFAULT_FEATURES", "MLStrategy", "Training"]

DEFAULT_FEATURES = "ret_1,ret_3,ret_6,ret_12,ret_24,vol_12,vol_48,range_24,hl_range,body,volz_24"
_CODE_HASHES: dict[type, str] = {}


@dataclass(frozen=True, slots=True)
class Training:
    """One retrain: the bar it served from, its sample window and the fitted artifact's hash."""

    bar: int
    ts_ms: int | None
    first_sample: int
    last_sample: int
    samples: int
    artifact: str
    key: str


def _code_hash(cls: type) -> str:
    """sha256 over the strategy's module source and the ML modules that shape its models."""
    if cls not in _CODE_HASHES:
        h = hashlib.sha256()
        for module in {cls.__module__, __name__, "quantdesk.ml.features", "quantdesk.ml.labels", "quantdesk.ml.models"}:
            try:
                h.update(inspect.getsource(sys.modules[module]).encode())
            except (OSError, TypeError, KeyError):
                h.update(module.encode())  # a class defined interactively: its module name only
        _CODE_HASHES[cls] = h.hexdigest()
    return _CODE_HASHES[cls]


def _bar_numbers(candles: pl.DataFrame) -> np.ndarray:
    """Each bar's absolute number (ts // timeframe), so schedules do not depend on where history starts."""
    if "ts" not in candles.columns or len(candles) < 2:
        return np.arange(len(candles), dtype=np.int64)
    ts = candles["ts"].dt.epoch("ms").to_numpy() if candles["ts"].dtype != pl.Int64 else candles["ts"].to_numpy()
    step = int(np.min(np.diff(ts))) if len(ts) > 1 else 1
    return ts // max(step, 1)


class MLStrategy(Strategy):
    """Target = the sign of a model's score (flat within `threshold`), retrained every `retrain_every` bars."""

    name: ClassVar[str] = "ml_strategy"

    features = param(DEFAULT_FEATURES, doc="comma-separated features (quantdesk.ml.features)")
    model = param("lightgbm", doc="a registered model: " + ", ".join(sorted(MODELS)))
    label = param("return", choices=LABELS, doc="forward return over horizon, its sign, or a triple barrier")
    horizon = param(4, min=1, max=10_000, doc="label horizon in bars")
    train_window = param(500, min=2, max=10_000_000, doc="training samples (rolling window)")
    retrain_every = param(168, min=1, max=10_000_000, doc="bars between retrains")
    embargo = param(0, min=0, max=10_000, doc="bars dropped after the purge")
    expanding = param(False, doc="train on every past sample instead of the last train_window")
    purge = param(True, doc="drop samples whose labels have not closed (off only to plant a leak)")
    threshold = param(0.0, min=0.0, max=1.0, doc="flat while |score| <= threshold")
    long_only = param(False, doc="no short targets")
    barrier = param(0.02, min=0.0001, max=1.0, doc="triple-barrier width (label=triple_barrier)")
    seed = param(0, min=0, max=2**31 - 1, doc="the model's random seed")

    def validate(self) -> None:
        names = feature_names(self.features)
        if self.model not in MODELS:
            make_model(self.model, self.seed)  # raises the one-line unknown-model error
        if self.horizon >= self.train_window:
            raise MLError(f"label horizon {self.horizon} >= train_window {self.train_window}: every label would "
                          f"reach past the window; set train_window above {self.horizon} (or a shorter horizon)")
        if self.train_window <= len(names):
            raise MLError(f"train_window {self.train_window} leaves fewer training samples than the {len(names)} "
                          f"features; set train_window above {len(names)} (a few times more is wiser) or drop features")
        self.trainings: list[Training] = []

    @property
    def warmup(self) -> int:
        """Bars the trailing window needs: a full training window after the features settled, the purge,
        and one retrain period (so the live window always holds the last retrain point's samples)."""
        return (lookback_bars(feature_names(self.features)) + self.train_window + self.horizon + self.embargo
                + self.retrain_every + 1)

    def model_params(self) -> dict[str, Any]:
        """The parameters a fitted model depends on (beside its data window): its cache key's."""
        return {"model": self.model, "seed": self.seed, "features": self.features, "label": self.label,
                "horizon": self.horizon, "barrier": self.barrier}

    def scores(self, candles: pl.DataFrame) -> np.ndarray:
        """The model's score per bar (NaN where no model or no features); records `self.trainings`."""
        names = feature_names(self.features)
        x = feature_matrix(candles, names)
        y = make_labels(candles["close"].to_numpy(), self.label, self.horizon, barrier=self.barrier)
        n = len(candles)
        bar_no = _bar_numbers(candles)
        points = np.flatnonzero(bar_no % self.retrain_every == 0)
        x_ok = np.isfinite(x).all(axis=1)
        out = np.full(n, np.nan)
        cache = cache_mod.default_cache()
        code = _code_hash(type(self))
        params = self.model_params()
        has_ts = "ts" in candles.columns
        self.trainings = []
        for j, r in enumerate(points):
            end = int(points[j + 1]) if j + 1 < len(points) else n
            last = r - self.horizon - self.embargo if self.purge else r
            first = 0 if self.expanding else last - self.train_window + 1
            if last < 0 or first < 0:
                continue  # not enough history before this retrain point: flat until the next one
            rows = np.arange(first, last + 1)
            rows = rows[x_ok[rows] & np.isfinite(y[rows])]
            if len(rows) <= len(names) or (not self.expanding and len(rows) < self.train_window):
                continue  # the window is not full yet (features warming up): flat, the same in every history
            xs, ys = x[rows], y[rows]
            key = cache_mod.model_key(code, params, _checksum(rows, xs, ys))
            hit = cache.get(key)
            if hit is None:
                model = make_model(self.model, self.seed)
                try:
                    model.fit(xs, ys)
                except Exception as e:  # noqa: BLE001 - any model's failure becomes one actionable line
                    raise MLError(f"model {self.model!r} failed to fit on samples {first}..{last} "
                                  f"({type(e).__name__}: {e}); check the features for constant or missing columns, "
                                  "or choose another model") from e
                hit = cache.put(key, model)
            fitted, digest = hit
            self.trainings.append(Training(bar=int(r), ts_ms=_ts_ms(candles, r) if has_ts else None,
                                           first_sample=int(rows[0]), last_sample=int(rows[-1]),
                                           samples=len(rows), artifact=digest, key=key))
            seg = np.arange(r, end)
            seg = seg[x_ok[seg]]
            if len(seg):
                out[seg] = np.asarray(fitted.predict(x[seg]), dtype=np.float64)
        return out

    def lookahead_bars(self, frames: dict[str, pl.DataFrame] | pl.DataFrame, *, limit: int = 4) -> list[int]:
        """Bars the lookahead check must truncate at: retrain bars r and r + horizon - 1 (up to `limit`
        retrain points spread over the history). A window whose labels cross r differs exactly there."""
        candles = frames if isinstance(frames, pl.DataFrame) else next(iter(frames.values()))
        points = np.flatnonzero(_bar_numbers(candles) % self.retrain_every == 0)
        points = points[points >= self.warmup - self.retrain_every]  # where a model can exist
        if len(points) > limit:
            points = points[np.linspace(0, len(points) - 1, limit).round().astype(int)]
        return sorted({int(b) for r in points for b in (r, r + self.horizon - 1)})

    def model_record(self, frames: dict[str, pl.DataFrame] | pl.DataFrame) -> dict[str, Any]:
        """What a stored run and a promotion pin: the models of this history, the last one's artifact
        hash and training window, and the features' out-of-sample permutation importances."""
        from quantdesk.ml.importance import permutation_importance

        candles = frames if isinstance(frames, pl.DataFrame) else next(iter(frames.values()))
        importance = permutation_importance(self, candles, seed=self.seed)
        trainings = list(self.trainings)
        ts = candles["ts"] if "ts" in candles.columns else None

        def when(i: int) -> str | None:
            return None if ts is None else str(ts[int(i)])

        last = trainings[-1] if trainings else None
        summary = {
            "model": self.model, "model_params": self.model_params(), "retrains": len(trainings),
            "artifact": None if last is None else last.artifact,
            "training_window": None if last is None else {
                "first_sample_ts": when(last.first_sample), "last_sample_ts": when(last.last_sample),
                "retrained_at_ts": when(last.bar), "samples": last.samples},
            "retrain_every": self.retrain_every, "horizon": self.horizon, "embargo": self.embargo,
            "artifacts": [{"ts": when(t.bar), "artifact": t.artifact} for t in trainings],
        }
        return {"summary": summary, "importance": importance}

    def target(self, candles: pl.DataFrame) -> pl.Series:
        score = self.scores(candles)
        signal = np.where(np.isnan(score) | (np.abs(score) <= self.threshold), 0.0, np.sign(score))
        if self.long_only:
            signal = np.maximum(signal, 0.0)
        return pl.Series("target", signal, dtype=pl.Float64)


def _checksum(rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(str(len(rows)).encode())
    return h.hexdigest()


def _ts_ms(candles: pl.DataFrame, i: int) -> int:
    value = candles["ts"][int(i)]
    return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else int(value)
