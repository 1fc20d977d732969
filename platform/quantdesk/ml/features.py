"""Features as polars expressions over a candle frame, from the indicator library (TA-Lib-backed).

A feature is named `family_N` (`rsi_14`, `ema_gap_20`, `ret_5`) or a bare family (`macd_hist`,
`hl_range`); `col_NAME` reads a column already in the frame and `src_NAME` asks a registered
`FeatureSource` (another lake series: another symbol's close, the funding rate, a sentiment
score) for values aligned to the candles' `ts`. Every feature is causal: its value at bar t
depends on bars up to t only (`quantdesk check lookahead` verifies it for a strategy).

`feature_matrix` computes a list of features once per distinct candle frame and feature list
(a small memo keyed by the frame's checksum), so a sweep's combinations and the lookahead
check's truncations reuse one matrix instead of recomputing indicators per combination.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from quantdesk import indicators as ind
from quantdesk.ml.errors import MLError

__all__ = ["FeatureSource", "feature_exprs", "feature_matrix", "feature_names", "frame_checksum",
           "lookback_bars", "register_feature", "register_source"]


class FeatureSource(Protocol):
    """Another series for features: values aligned to the candles' bar times (as of each bar's close).

    `quantdesk.lake.series` provides a reader for imported series; wrap it so that `__call__(ts)`
    returns one Float64 value per bar time, using only observations at or before that bar.
    """

    def __call__(self, ts: pl.Series) -> pl.Series: ...


def _talib(fn: Callable[..., pl.Series], *cols: str, **kw: object) -> pl.Expr:
    """An expression running an indicator-library function on whole columns (TA-Lib needs the batch)."""
    if len(cols) == 1:
        return pl.col(cols[0]).map_batches(lambda s: fn(s, **kw), return_dtype=pl.Float64)
    return pl.struct(list(cols)).map_batches(
        lambda s: fn(*(s.struct.field(c) for c in cols), **kw), return_dtype=pl.Float64)


def _bb_pos(close: pl.Series, period: int) -> pl.Series:
    b = ind.bbands(close, period)
    return (close - b.lower) / (b.upper - b.lower)


def _macd_hist(close: pl.Series) -> pl.Series:
    return ind.macd(close).hist


def _exact_std(series: pl.Series, period: int) -> pl.Series:
    return ind.window_mean_std(series, period)[1]


def _exact_z(series: pl.Series, period: int) -> pl.Series:
    mean, std = ind.window_mean_std(series, period)
    return (series - mean) / std


_close = pl.col("close")
_ret1 = _close / _close.shift(1) - 1.0
# family -> (needs an integer N?, builder(N) -> expression)
_FAMILIES: dict[str, Callable[[int], pl.Expr]] = {
    "ret": lambda n: _close / _close.shift(n) - 1.0,
    "logret": lambda n: (_close / _close.shift(n)).log(),
    "rsi": lambda n: _talib(ind.rsi, "close", period=n),
    "ema_gap": lambda n: _close / _talib(ind.ema, "close", period=n) - 1.0,
    "sma_gap": lambda n: _close / _talib(ind.sma, "close", period=n) - 1.0,
    "zscore": lambda n: _talib(ind.zscore, "close", period=n),
    "mom": lambda n: _talib(ind.momentum, "close", period=n),
    "atr": lambda n: _talib(ind.atr, "high", "low", "close", period=n) / _close,
    # window-exact (each window summed afresh): the live runner's trailing window gets the same bits
    "vol": lambda n: _ret1.map_batches(lambda r: _exact_std(r, n), return_dtype=pl.Float64),
    "bbpos": lambda n: _talib(_bb_pos, "close", period=n),
    "volz": lambda n: _talib(_exact_z, "volume", period=n),
    "range": lambda n: (pl.col("high").rolling_max(n) - pl.col("low").rolling_min(n)) / _close,
}
_BARE: dict[str, Callable[[], pl.Expr]] = {
    "macd_hist": lambda: _talib(_macd_hist, "close") / _close,
    "hl_range": lambda: (pl.col("high") - pl.col("low")) / _close,
    "body": lambda: (_close - pl.col("open")) / pl.col("open"),
}
# bars until a feature's value no longer depends on where the history starts (to 1e-12): the
# period for windowed ones; recursive TA-Lib ones (EMA, Wilder) forget their seed geometrically
_RECURSIVE = {"rsi", "ema_gap", "atr"}
_CUSTOM: dict[str, Callable[[], pl.Expr]] = {}
_SOURCES: dict[str, FeatureSource] = {}
_NAME = re.compile(r"^([a-z_]+?)_(\d+)$")


def register_feature(name: str, build: Callable[[], pl.Expr]) -> None:
    """Add a feature `name` computed by the expression `build()` (it must use bars up to t only)."""
    _CUSTOM[name] = build


def register_source(name: str, source: FeatureSource) -> None:
    """Make `src_NAME` a feature: values of another series aligned to the candles (see FeatureSource)."""
    _SOURCES[name] = source


def feature_names(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse a comma-separated feature list; raise MLError naming an unknown feature and the known ones."""
    names = tuple(n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip())
    if not names:
        raise MLError("an ML strategy needs at least one feature; set features='ret_1,rsi_14,...'")
    if len(set(names)) != len(names):
        raise MLError(f"features {list(names)} repeat a name; list each feature once")
    for name in names:
        _expr(name)  # raises on an unknown one
    return names


def _expr(name: str) -> pl.Expr:
    if name in _CUSTOM:
        return _CUSTOM[name]()
    if name in _BARE:
        return _BARE[name]()
    if name.startswith("col_"):
        return pl.col(name[4:]).cast(pl.Float64)
    if name.startswith("src_"):
        if name[4:] not in _SOURCES:
            raise MLError(f"unknown feature source {name[4:]!r} in {name!r}; register it with "
                          f"quantdesk.ml.register_source (known: {sorted(_SOURCES) or 'none'})")
        source = _SOURCES[name[4:]]
        return pl.col("ts").map_batches(lambda ts: source(ts).cast(pl.Float64), return_dtype=pl.Float64)
    m = _NAME.match(name)
    if m and m.group(1) in _FAMILIES and int(m.group(2)) >= 1:
        return _FAMILIES[m.group(1)](int(m.group(2)))
    families = [f"{f}_N" for f in _FAMILIES] + list(_BARE) + ["col_NAME", "src_NAME"] + sorted(_CUSTOM)
    raise MLError(f"unknown feature {name!r}; use one of {', '.join(families)}")


def lookback_bars(names: tuple[str, ...]) -> int:
    """Bars of history the features need before they are defined and independent of the start."""
    need = 1
    for name in names:
        m = _NAME.match(name)
        if m and m.group(1) in _FAMILIES:
            n = int(m.group(2))
            need = max(need, 30 * n + 10 if m.group(1) in _RECURSIVE else n + 2)
        elif name == "macd_hist":
            need = max(need, 30 * 26 + 10)
        else:
            need = max(need, 2)
    return need


def feature_exprs(names: tuple[str, ...]) -> list[pl.Expr]:
    """The polars expressions of `names`, each aliased to its name."""
    return [_expr(n).alias(n) for n in names]


def frame_checksum(frame: pl.DataFrame) -> str:
    """sha256 over a frame's columns' bytes (a data window's identity for caches)."""
    h = hashlib.sha256()
    for name in frame.columns:
        h.update(name.encode())
        col = frame[name]
        h.update(col.to_physical().to_numpy().tobytes() if col.dtype != pl.String else "\0".join(col.to_list()).encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    matrix: np.ndarray


_MEMO: OrderedDict[tuple[str, tuple[str, ...]], _Entry] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 64  # a sweep's frame plus the lookahead check's truncations; memory-bounded


def feature_matrix(candles: pl.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """An (n_bars, n_features) float64 matrix of the features (NaN where not yet defined).

    Memoised by (frame checksum, names): read-only, shared by every caller with the same frame.
    """
    key = (frame_checksum(candles), names)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
            return hit.matrix
    out = candles.select(feature_exprs(names)).with_columns(pl.all().cast(pl.Float64).fill_nan(None))
    # a copy: polars hands a single null-free column over zero-copy, read-only
    matrix = np.array(out.to_numpy(), dtype=np.float64, order="C")
    matrix[~np.isfinite(matrix)] = np.nan  # an inf (a zero-volume bar's z-score) is as unknown as a null
    matrix.setflags(write=False)
    with _MEMO_LOCK:
        _MEMO[key] = _Entry(matrix)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return matrix
