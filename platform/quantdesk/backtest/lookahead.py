"""The lookahead check (DESIGN.md, contract 4).

`target()` on the full history must equal, at every bar t, `target()` on the history up
to t. We compute the full target once, then re-run the strategy on history truncated at
sampled bars and compare the whole truncated output with the full one over the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import LookaheadError, StrategyError
from quantdesk.strategies.base import Strategy

__all__ = ["LookaheadVerdict", "assert_no_lookahead", "check_lookahead", "sample_params", "target_matrix"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LookaheadVerdict:
    """The outcome of a lookahead check: which bars were checked and the first offence, if any."""

    passed: bool
    strategy: str
    params: dict[str, Any]
    checked_bars: tuple[int, ...]
    first_bad_bar: int | None = None
    first_bad_ts: str | None = None
    symbol: str | None = None
    full_value: float | None = None
    truncated_value: float | None = None
    truncated_at: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        """Return a one-line description of the verdict."""
        if self.passed:
            return f"{self.strategy} {self.params}: no lookahead in {len(self.checked_bars)} sampled bars"
        return (
            f"{self.strategy} {self.params} looks ahead: at bar {self.first_bad_bar} ({self.first_bad_ts}"
            f"{', ' + self.symbol if self.symbol else ''}) the target on the full history is "
            f"{self.full_value} but on history truncated at bar {self.truncated_at} it is "
            f"{self.truncated_value}; make target() use only bars up to t (no shift(-n), no centred windows)"
        )


def target_matrix(strategy: Strategy, frames: dict[str, pl.DataFrame]) -> np.ndarray:
    """Run `strategy.target` and return its output as an (n_bars, n_symbols) float64 array.

    Nulls become 0 (flat). Raise StrategyError on a wrong length, a missing symbol, NaN or a
    value outside [-1, 1].
    """
    symbols = list(frames)
    n = len(next(iter(frames.values())))
    if strategy.multi_asset:
        out = strategy.target(frames)
        if isinstance(out, pl.DataFrame):
            out = {c: out[c] for c in out.columns}
        if not isinstance(out, dict):
            raise StrategyError(f"{strategy.name} is multi-asset and must return {{symbol: series}}, got {type(out).__name__}")
        missing = [s for s in symbols if s not in out]
        if missing:
            raise StrategyError(f"{strategy.name} returned no target for {missing}")
        columns = [out[s] for s in symbols]
    else:
        if len(frames) != 1:
            raise StrategyError(f"{strategy.name} is single-asset; give it one symbol, not {symbols}")
        columns = [strategy.target(frames[symbols[0]])]
    matrix = np.empty((n, len(symbols)), dtype=np.float64)
    for i, column in enumerate(columns):
        series = column if isinstance(column, pl.Series) else pl.Series(column)
        if len(series) != n:
            raise StrategyError(f"{strategy.name} returned {len(series)} targets for {n} bars of {symbols[i]}")
        values = series.cast(pl.Float64).fill_null(0.0).to_numpy()
        if np.isnan(values).any():
            raise StrategyError(f"{strategy.name} returned NaN targets for {symbols[i]}; return null or 0 for 'flat'")
        if (np.abs(values) > 1.0 + 1e-12).any():
            bad = float(values[np.abs(values) > 1.0 + 1e-12][0])
            raise StrategyError(f"{strategy.name} returned target {bad} outside [-1, 1] for {symbols[i]}")
        matrix[:, i] = values
    return matrix


def sample_params(cls: type[Strategy], count: int, *, seed: int = 0, tries: int = 50) -> list[dict[str, Any]]:
    """Return up to `count` random parameter sets within the declared ranges that pass `validate()`."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for _ in range(count * tries):
        if len(out) >= count:
            break
        values: dict[str, Any] = {}
        for name, spec in cls.params().items():
            if spec.choices:
                values[name] = spec.choices[int(rng.integers(len(spec.choices)))]
            elif spec.kind is bool:
                values[name] = bool(rng.integers(2))
            elif spec.kind is int and spec.min is not None and spec.max is not None:
                values[name] = int(rng.integers(int(spec.min), int(spec.max) + 1))
            elif spec.kind is float and spec.min is not None and spec.max is not None:
                values[name] = float(rng.uniform(spec.min, spec.max))
        try:
            cls(**values)
        except StrategyError:
            continue
        out.append(values)
    return out


def _sample_bars(n: int, samples: int | None, warmup: int, seed: int) -> list[int]:
    if n < 2:
        return []
    if samples is None or samples >= n - 1:
        return list(range(n - 1))
    rng = np.random.default_rng(seed)
    # Half after the warm-up (where signals live), half anywhere, and always the second-to-last bar.
    lo = min(max(warmup, 1), n - 2)
    picks = set(rng.integers(lo, n - 1, size=max(samples - samples // 2 - 1, 0)).tolist())
    picks |= set(rng.integers(0, n - 1, size=samples // 2).tolist())
    picks.add(n - 2)
    return sorted(picks)


def check_lookahead(
    strategy: Strategy,
    frames: dict[str, pl.DataFrame] | pl.DataFrame,
    *,
    samples: int | None = 16,
    seed: int = 0,
    atol: float = 1e-9,
    full: np.ndarray | None = None,
) -> LookaheadVerdict:
    """Compare targets on the full history with targets on history truncated at sampled bars.

    `samples=None` checks every bar (slow: quadratic). `full` reuses an already computed
    `target_matrix` of the full history. A strategy with a `lookahead_bars(frames)` method has
    those bars checked too. The verdict names the earliest offending bar.
    """
    if isinstance(frames, pl.DataFrame):
        frames = {"asset": frames}
    symbols = list(frames)
    n = len(next(iter(frames.values())))
    full = target_matrix(strategy, frames) if full is None else full
    bars = _sample_bars(n, samples, strategy.warmup, seed)
    # a strategy may name the bars where lookahead would hide (an ML strategy: its retrain bars,
    # where a window whose labels cross the prediction bar differs from a truncated history's)
    critical = getattr(strategy, "lookahead_bars", None)
    if callable(critical):
        bars = sorted(set(bars) | {int(b) for b in critical(frames) if 0 <= int(b) < n - 1})
    worst: tuple[int, int, int] | None = None  # (bar, symbol index, truncated at)
    for t in bars:
        truncated = target_matrix(strategy, {s: f.head(t + 1) for s, f in frames.items()})
        diff = np.abs(truncated - full[: t + 1]) > atol
        if diff.any():
            rows, cols = np.nonzero(diff)
            first = (int(rows[0]), int(cols[0]), t)
            if worst is None or first[0] < worst[0]:
                worst = first
    base: dict[str, Any] = {"strategy": strategy.name, "params": strategy.values, "checked_bars": tuple(bars)}
    if worst is None:
        return LookaheadVerdict(passed=True, **base)
    bar, col, at = worst
    truncated = target_matrix(strategy, {s: f.head(at + 1) for s, f in frames.items()})
    frame = frames[symbols[col]]
    ts = frame["ts"][bar] if "ts" in frame.columns else None  # candles without times (a bare frame)
    verdict = LookaheadVerdict(
        passed=False,
        first_bad_bar=bar,
        first_bad_ts=None if ts is None else ts.isoformat() if hasattr(ts, "isoformat") else str(ts),
        symbol=symbols[col] if len(symbols) > 1 else None,
        full_value=float(full[bar, col]),
        truncated_value=float(truncated[bar, col]),
        truncated_at=at,
        **base,
    )
    return replace(verdict, detail=verdict.message())


def assert_no_lookahead(strategy: Strategy, frames: dict[str, pl.DataFrame] | pl.DataFrame, **kwargs: Any) -> LookaheadVerdict:
    """Run `check_lookahead` and raise LookaheadError naming the first offending bar if it fails."""
    verdict = check_lookahead(strategy, frames, **kwargs)
    if not verdict.passed:
        raise LookaheadError(verdict.message())
    return verdict
