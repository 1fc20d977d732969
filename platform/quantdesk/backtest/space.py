"""Search spaces for `quantdesk optimize`: the `--space` syntax, checked against a strategy's parameters.

Syntax (one `--space` per parameter):
- `fast=5:50` an integer range (both ends inclusive); `fast=5:50:5` with a step;
- `exit_level=40.0:60` a float range (either end with a dot); `x=0.001:0.1:log` on a log scale,
  `x=40.0:60.0:0.5` on a step;
- `short=true,false` or `mode=a,b,c` a categorical choice.

Each dimension is checked against the strategy's declared `Param` (name, type, range), so a bad
spec fails before any trial runs, with a one-line message naming the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from quantdesk.core.errors import BacktestError, StrategyError
from quantdesk.strategies.base import Strategy

__all__ = ["Categorical", "Dimension", "FloatRange", "IntRange", "check_space", "parse_space", "parse_space_spec"]

_EXAMPLE = "e.g. --space fast=5:50, --space exit_level=40.0:60.0, --space short=true,false"


@dataclass(frozen=True, slots=True)
class IntRange:
    """Integers from `low` to `high` inclusive, every `step`."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def describe(self) -> str:
        return f"{self.low}:{self.high}" + (":log" if self.log else f":{self.step}" if self.step != 1 else "")


@dataclass(frozen=True, slots=True)
class FloatRange:
    """Floats from `low` to `high` inclusive, continuous unless `step` is set, log-scaled if `log`."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def describe(self) -> str:
        return f"{self.low!r}:{self.high!r}" + (":log" if self.log else f":{self.step!r}" if self.step else "")


@dataclass(frozen=True, slots=True)
class Categorical:
    """One of `choices` (already coerced to the parameter's type once checked)."""

    choices: tuple[Any, ...]

    def describe(self) -> str:
        return ",".join(str(c) for c in self.choices)


Dimension = IntRange | FloatRange | Categorical


def _is_float_text(text: str) -> bool:
    return "." in text or "e" in text.lower()


def parse_space_spec(spec: str) -> tuple[str, Dimension]:
    """Parse one `--space` spec into (name, dimension); raise BacktestError naming the fix."""
    name, sep, body = spec.partition("=")
    name, body = name.strip(), body.strip()
    if not sep or not name or not body:
        raise BacktestError(f"space {spec!r} is not name=low:high or name=a,b,c ({_EXAMPLE})")
    if ":" not in body:
        choices = tuple(v.strip() for v in body.split(","))
        if any(not c for c in choices):
            raise BacktestError(f"space {spec!r} has an empty choice; list values like {name}=a,b,c")
        return name, Categorical(choices)
    parts = [p.strip() for p in body.split(":")]
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise BacktestError(f"space {spec!r}: a range is low:high[:step|:log], e.g. {name}=5:50 or {name}=0.01:1.0:log")
    low_text, high_text = parts[0], parts[1]
    extra = parts[2] if len(parts) == 3 else None
    is_float = _is_float_text(low_text) or _is_float_text(high_text) or (extra is not None and _is_float_text(extra))
    try:
        low: float = float(low_text) if is_float else int(low_text)
        high: float = float(high_text) if is_float else int(high_text)
    except ValueError:
        raise BacktestError(f"space {spec!r}: low and high must be numbers, e.g. {name}=5:50") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise BacktestError(f"space {spec!r}: low and high must be finite numbers")
    if high < low:
        raise BacktestError(f"space {spec!r}: high {high} is below low {low}; write it as {name}={high_text}:{low_text}")
    log = extra == "log"
    if log and low <= 0:
        raise BacktestError(f"space {spec!r}: a log scale needs low > 0, e.g. {name}=0.001:0.1:log")
    step: float | None = None
    if extra is not None and not log:
        try:
            step = float(extra) if is_float else int(extra)
        except ValueError:
            raise BacktestError(f"space {spec!r}: the third part is a step (a number > 0) or 'log'") from None
        if not step > 0:
            raise BacktestError(f"space {spec!r}: the step must be > 0, e.g. {name}={low_text}:{high_text}:5")
    if is_float:
        return name, FloatRange(float(low), float(high), None if step is None else float(step), log)
    return name, IntRange(int(low), int(high), int(step or 1), log)


def parse_space(specs: Iterable[str]) -> dict[str, Dimension]:
    """Parse repeated `--space` options; a repeated name is an error."""
    space: dict[str, Dimension] = {}
    for spec in specs:
        name, dim = parse_space_spec(spec)
        if name in space:
            raise BacktestError(f"space parameter {name!r} is given twice; give each parameter once")
        space[name] = dim
    if not space:
        raise BacktestError(f"optimize needs a search space ({_EXAMPLE})")
    return space


def check_space(strategy_cls: type[Strategy], space: Mapping[str, Dimension]) -> dict[str, Dimension]:
    """Return `space` fitted to the strategy's parameters: names known, types and ranges allowed.

    A float parameter given integer bounds searches floats between them; an integer parameter given
    float bounds, a range over a boolean or string parameter, or bounds outside the declared range fail.
    """
    specs = strategy_cls.params()
    unknown = sorted(set(space) - set(specs))
    if unknown:
        raise BacktestError(f"space: {strategy_cls.name} has no parameter {unknown}; its parameters are {sorted(specs)}")
    out: dict[str, Dimension] = {}
    for name, dim in space.items():
        spec = specs[name]
        kind = spec.kind
        try:
            if isinstance(dim, Categorical):
                out[name] = Categorical(tuple(dict.fromkeys(spec.coerce(c) for c in dim.choices)))
                continue
            if kind is bool or kind is str:
                raise BacktestError(f"space {name}: {name} is a {kind.__name__} parameter; list its values like {name}="
                                    + ("true,false" if kind is bool else "a,b"))
            if kind is int and isinstance(dim, FloatRange):
                raise BacktestError(f"space {name}: {name} is an integer parameter; give integer bounds like "
                                    f"{name}={math.ceil(dim.low)}:{math.floor(dim.high)}")
            spec.coerce(dim.low)
            spec.coerce(dim.high)
        except StrategyError as e:
            raise BacktestError(f"space {name}: {e}") from e
        if kind is float and isinstance(dim, IntRange):
            dim = FloatRange(float(dim.low), float(dim.high), None if dim.step == 1 else float(dim.step), dim.log)
        out[name] = dim
    return out
