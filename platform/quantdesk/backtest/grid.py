"""Parameter grids for sweeps: CLI syntax, expansion, random sampling, invalid combinations."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from quantdesk.core.errors import BacktestError, StrategyError
from quantdesk.strategies.base import Strategy

__all__ = ["expand_grid", "parse_grid", "parse_grid_spec"]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_grid_spec(spec: str) -> tuple[str, list[Any]]:
    """Parse one `name=start:stop:step` (stop inclusive) or `name=a,b,c` into (name, values).

    Example: `fast=5:100:5` -> ("fast", [5, 10, ..., 100]); `short=true,false`.
    """
    name, sep, body = spec.partition("=")
    name, body = name.strip(), body.strip()
    if not sep or not name or not body:
        raise BacktestError(f"grid {spec!r} is not name=start:stop:step or name=a,b,c (e.g. fast=5:100:5)")
    if ":" in body:
        parts = body.split(":")
        if len(parts) not in (2, 3):
            raise BacktestError(f"grid {spec!r}: a range is start:stop[:step], e.g. fast=5:100:5")
        try:
            start, stop = _number(parts[0]), _number(parts[1])
            step = _number(parts[2]) if len(parts) == 3 else 1
        except ValueError as e:
            raise BacktestError(f"grid {spec!r}: start, stop and step must be numbers") from e
        if step <= 0 or stop < start:
            raise BacktestError(f"grid {spec!r}: needs step > 0 and stop >= start")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if all(isinstance(v, int) for v in (start, stop, step)):
            return name, [start + i * step for i in range(count)]
        return name, [round(start + i * step, 12) for i in range(count)]
    values = [v.strip() for v in body.split(",") if v.strip()]
    if not values:
        raise BacktestError(f"grid {spec!r} has no values")
    return name, values


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """Parse repeated `--grid` options into {name: values}; a repeated name is an error."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, values = parse_grid_spec(spec)
        if name in grid:
            raise BacktestError(f"grid parameter {name!r} is given twice; give each parameter once")
        grid[name] = values
    return grid


def _coerced(strategy_cls: type[Strategy], grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    specs = strategy_cls.params()
    unknown = sorted(set(grid) - set(specs))
    if unknown:
        raise BacktestError(
            f"{strategy_cls.name} has no parameter {unknown}; its parameters are {sorted(specs)}"
        )
    out: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if len(values) == 0:
            raise BacktestError(f"grid parameter {name!r} has no values")
        try:
            out[name] = list(dict.fromkeys(specs[name].coerce(v) for v in values))
        except StrategyError as e:
            raise BacktestError(f"grid parameter {name}: {e}") from e
    return out


def expand_grid(
    strategy_cls: type[Strategy],
    grid: Mapping[str, Sequence[Any]],
    *,
    random: int | None = None,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Return (valid combinations, number skipped because `validate()` refused them).

    With `random=N`, N distinct combinations are drawn (seeded) from the full product
    before validation, so the skipped count refers to the sample.
    """
    values = _coerced(strategy_cls, grid)
    names = list(values)
    sizes = [len(values[n]) for n in names]
    total = math.prod(sizes) if names else 1
    if random is not None:
        if random < 1:
            raise BacktestError(f"--random {random} must be >= 1")
        rng = np.random.default_rng(seed)
        picks = rng.choice(total, size=min(random, total), replace=False) if total else []
        raw = []
        for flat in sorted(int(p) for p in picks):
            combo = {}
            for name, size in zip(reversed(names), reversed(sizes), strict=True):
                flat, i = divmod(flat, size)
                combo[name] = values[name][i]
            raw.append({n: combo[n] for n in names})
    else:
        raw = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]
    valid: list[dict[str, Any]] = []
    skipped = 0
    for combo in raw:
        try:
            strategy_cls(**combo)
        except StrategyError:
            skipped += 1
            continue
        valid.append(combo)
    return valid, skipped
