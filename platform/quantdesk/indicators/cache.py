"""A per-sweep memo for indicators: each distinct (indicator, input, arguments) is computed once.

A sweep builds hundreds of strategy instances over the same candles; most of them ask for
the same few indicators (an RSI of period 14 serves every combination of thresholds).
Inside `with indicator_cache():` the public indicator functions answer repeated calls from
the memo. A hit needs the same function, the same non-series arguments and inputs equal
value for value (checked with `np.array_equal`, a memory-speed compare), so a strategy that
feeds an indicator a derived series never gets another series' result. Outside the block
nothing is cached; results are immutable polars Series, safe to share between threads.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import polars as pl

__all__ = ["CacheStats", "indicator_cache", "memoized"]

F = TypeVar("F", bound=Callable[..., Any])


class CacheStats:
    """Hits and misses of one `indicator_cache` block, with the memo itself."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()
        self.entries: dict[tuple[Any, ...], list[tuple[tuple[np.ndarray, ...], Any]]] = {}


_ACTIVE: contextvars.ContextVar[CacheStats | None] = contextvars.ContextVar("indicator_cache", default=None)
# Threads started inside the block (a sweep's worker pool) do not inherit contextvars, so the
# active memo is also published here; the block's owner sets and clears it.
_SHARED: list[CacheStats] = []


@contextmanager
def indicator_cache() -> Iterator[CacheStats]:
    """Memoise indicator calls (this thread and the threads it starts) until the block ends."""
    stats = CacheStats()
    token = _ACTIVE.set(stats)
    _SHARED.append(stats)
    try:
        yield stats
    finally:
        _ACTIVE.reset(token)
        _SHARED.remove(stats)


def _current() -> CacheStats | None:
    return _ACTIVE.get() or (_SHARED[-1] if _SHARED else None)


def _split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[np.ndarray, ...]] | None:
    """Return (hashable key part, input arrays), or None when an argument cannot be keyed."""
    key: list[Any] = []
    arrays: list[np.ndarray] = []
    for name, item in [(None, a) for a in args] + sorted(kwargs.items()):
        if isinstance(item, pl.Series):
            arrays.append(item.to_numpy())
            key.append((name, "series", item.name, item.dtype, len(item)))
        elif isinstance(item, np.ndarray):
            arrays.append(item)
            key.append((name, "array", item.dtype.str, item.shape))
        else:
            try:
                hash(item)
            except TypeError:
                return None
            key.append((name, item))
    return tuple(key), tuple(arrays)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    # `Series.to_numpy()` is a view of the column's immutable buffer, kept alive by the memo:
    # the same address, shape and strides are the same values, with no pass over them.
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape
            and a.strides == b.strides and a.dtype == b.dtype)


def _same(stored: tuple[np.ndarray, ...], arrays: tuple[np.ndarray, ...]) -> bool:
    return all(_same_memory(a, b) or np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
               for a, b in zip(stored, arrays, strict=True))


def memoized(fn: F) -> F:
    """Answer `fn` from the active `indicator_cache`, if any (the function is unchanged otherwise)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stats = _current()
        if stats is None:
            return fn(*args, **kwargs)
        split = _split(args, kwargs)
        if split is None:
            return fn(*args, **kwargs)
        key, arrays = (fn.__module__, fn.__qualname__, *split[0]), split[1]
        with stats.lock:
            candidates = list(stats.entries.get(key, ()))
        for stored, result in candidates:  # compared outside the lock: threads do not queue on it
            if _same(stored, arrays):
                with stats.lock:
                    stats.hits += 1
                return result
        result = fn(*args, **kwargs)
        with stats.lock:
            stats.misses += 1
            stats.entries.setdefault(key, []).append((arrays, result))
        return result

    return wrapper  # type: ignore[return-value]
