"""Trained models cached by (code hash, model parameters, training-window checksum).

A model is pickled once; the artifact's sha256 is its identity (what a deployment pins and a
retrain audits). The fitted model a strategy predicts with is always the one read back from
those bytes, so the first backtest and every later one (from memory or from disk) predict
with the same object state, bit for bit. Files are written to a temporary name and renamed,
so a crash or a failed fit never leaves a half-written artifact behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.core.settings import get_settings
from quantdesk.ml.errors import MLError

__all__ = ["CacheStats", "ModelCache", "default_cache", "model_key"]


def model_key(code_hash: str, params: dict[str, Any], window_checksum: str) -> str:
    """The cache key of one training: sha256 over the code, the model's parameters and the data window."""
    blob = json.dumps({"code": code_hash, "params": params, "window": window_checksum}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(slots=True)
class CacheStats:
    """How a cache answered: from memory, from disk, or by training."""

    memory_hits: int = 0
    disk_hits: int = 0
    trained: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {"memory_hits": self.memory_hits, "disk_hits": self.disk_hits, "trained": self.trained}


class ModelCache:
    """Memory in front of a directory of pickled models (`<home>/ml/models/<key>.pkl`)."""

    def __init__(self, directory: Path | None = None, *, memory_size: int = 512) -> None:
        self._directory = directory
        self.memory_size = memory_size
        self._memory: dict[str, tuple[Any, str]] = {}
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @property
    def directory(self) -> Path:
        # resolved late: tests and the CLI set QUANTDESK_HOME after import
        return self._directory or get_settings().home / "ml" / "models"

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pkl"

    def get(self, key: str) -> tuple[Any, str] | None:
        """(model, artifact sha256) for `key`, from memory or disk; None when never trained."""
        with self._lock:
            hit = self._memory.get(key)
        if hit is not None:
            with self.stats.lock:
                self.stats.memory_hits += 1
            return hit
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        out = (pickle.loads(blob), hashlib.sha256(blob).hexdigest())  # noqa: S301 - our own artifacts
        self._remember(key, out)
        with self.stats.lock:
            self.stats.disk_hits += 1
        return out

    def put(self, key: str, model: Any) -> tuple[Any, str]:
        """Store a fitted model; return (the model as read back from its bytes, artifact sha256)."""
        try:
            blob = pickle.dumps(model, protocol=5)
        except Exception as e:  # noqa: BLE001 - a user's model may not pickle
            raise MLError(f"the fitted model {type(model).__name__} cannot be pickled ({e}); "
                          "give the model plain attributes (no open handles, lambdas or locks)") from e
        digest = hashlib.sha256(blob).hexdigest()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out = (pickle.loads(blob), digest)  # noqa: S301
        self._remember(key, out)
        with self.stats.lock:
            self.stats.trained += 1
        return out

    def load_artifact(self, digest: str) -> Any:
        """The model whose artifact sha256 is `digest` (a pinned deployment's), from the cache directory."""
        for path in sorted(self.directory.glob("*.pkl")) if self.directory.exists() else []:
            blob = path.read_bytes()
            if hashlib.sha256(blob).hexdigest() == digest:
                return pickle.loads(blob)  # noqa: S301
        raise MLError(f"no model artifact {digest[:12]}… under {self.directory}; retrain it with a backtest "
                      "of the pinned strategy and parameters on the pinned training window")

    def clear_memory(self) -> None:
        """Forget what is in memory (the disk copies stay): the next get reads from disk."""
        with self._lock:
            self._memory.clear()

    def _remember(self, key: str, value: tuple[Any, str]) -> None:
        with self._lock:
            if len(self._memory) >= self.memory_size:
                self._memory.pop(next(iter(self._memory)))
            self._memory[key] = value


_DEFAULT = ModelCache()


def default_cache() -> ModelCache:
    """The process-wide model cache."""
    return _DEFAULT
