"""Labels with an explicit horizon `h`: the sample at bar i is labelled from bars i..i+h.

A label at bar i is known only once bar i+h has closed (`label_end(i) = i + h`); training
code must never use it before then (`quantdesk.ml.strategy` purges by exactly this rule).
Labels past the end of the data are null, never guessed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from quantdesk.ml.errors import MLError

__all__ = ["LABELS", "forward_return", "forward_sign", "make_labels", "triple_barrier"]

LABELS = ("return", "sign", "triple_barrier")


def forward_return(close: pl.Series | np.ndarray, horizon: int) -> np.ndarray:
    """close[i+h] / close[i] - 1 per bar; NaN for the last `h` bars (their label is not yet known)."""
    c = np.asarray(close, dtype=np.float64)
    out = np.full(len(c), np.nan)
    if horizon < len(c):
        out[: len(c) - horizon] = c[horizon:] / c[: len(c) - horizon] - 1.0
    return out


def forward_sign(close: pl.Series | np.ndarray, horizon: int) -> np.ndarray:
    """The sign of `forward_return` (+1, 0, -1); NaN where the return is not yet known."""
    r = forward_return(close, horizon)
    return np.where(np.isnan(r), np.nan, np.sign(r))


def triple_barrier(close: pl.Series | np.ndarray, horizon: int, *, up: float, down: float) -> np.ndarray:
    """López de Prado's triple barrier: +1 if close touches +up first within h bars, -1 if -down first,
    else the sign of the return at the vertical barrier (bar i+h). NaN for the last `h` bars.

    The label still ends at i+h at the latest, so the purge by `h` bars stays sufficient.
    """
    c = np.asarray(close, dtype=np.float64)
    n = len(c)
    out = np.full(n, np.nan)
    if horizon >= n:
        return out
    # (n-h, h) matrix of path returns: path[i, k] = c[i+k+1]/c[i] - 1
    idx = np.arange(n - horizon)[:, None] + np.arange(1, horizon + 1)[None, :]
    path = c[idx] / c[: n - horizon, None] - 1.0
    hit_up = np.where((path >= up).any(axis=1), (path >= up).argmax(axis=1), horizon)
    hit_down = np.where((path <= -down).any(axis=1), (path <= -down).argmax(axis=1), horizon)
    vertical = np.sign(path[:, -1])
    out[: n - horizon] = np.where(hit_up < hit_down, 1.0, np.where(hit_down < hit_up, -1.0, vertical))
    return out


def make_labels(close: pl.Series | np.ndarray, kind: str, horizon: int, *, barrier: float = 0.02) -> np.ndarray:
    """The label named `kind` (one of LABELS) over `close` with horizon `horizon`."""
    if horizon < 1:
        raise MLError(f"label horizon {horizon} must be at least 1 bar; set horizon=1 or more")
    if kind == "return":
        return forward_return(close, horizon)
    if kind == "sign":
        return forward_sign(close, horizon)
    if kind == "triple_barrier":
        return triple_barrier(close, horizon, up=barrier, down=barrier)
    raise MLError(f"unknown label {kind!r}; use one of {', '.join(LABELS)}")
