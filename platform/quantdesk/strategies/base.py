"""The strategy contract (DESIGN.md, contracts 2 and 4).

A strategy declares typed parameters on the class with `param(...)` and implements a pure
`target(candles) -> pl.Series`: the target exposure in [-1, 1] decided at each bar's close.
No I/O, no clock, no global state. Multi-asset strategies set `multi_asset = True` and map
`{symbol: frame}` to `{symbol: series}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from quantdesk.core.errors import StrategyError

__all__ = ["Param", "Strategy", "param", "registry"]

_registry: dict[str, type[Strategy]] = {}
_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a text"}


def registry() -> dict[str, type[Strategy]]:
    """Return the registered strategies by name (a copy)."""
    return dict(_registry)


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """A declared strategy parameter: its type comes from the default."""

    default: int | float | bool | str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    name: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    def coerce(self, value: Any) -> int | float | bool | str:
        """Convert `value` (possibly a CLI string) to this parameter's type and check its range."""
        kind = self.kind
        try:
            if kind is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                out: Any = value.lower() in ("true", "1", "yes")
            elif kind is int and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(value)
                out = int(value)
            else:
                out = kind(value)
        except (TypeError, ValueError) as e:
            raise StrategyError(
                f"parameter {self.name}={value!r} is not {_KIND_NAMES.get(kind, 'a ' + kind.__name__)}; "
                f"give {_KIND_NAMES.get(kind, 'a ' + kind.__name__)} like {self.default!r}"
            ) from e
        if self.min is not None and out < self.min or self.max is not None and out > self.max:
            raise StrategyError(
                f"parameter {self.name}={out!r} is outside its range [{self.min}, {self.max}]"
            )
        if self.choices is not None and out not in self.choices:
            raise StrategyError(f"parameter {self.name}={out!r} is not one of {list(self.choices)}")
        return out


class _ParamDescriptor:
    def __init__(self, spec: Param) -> None:
        self.spec = spec

    def __set_name__(self, owner: type, name: str) -> None:
        self.spec = Param(
            default=self.spec.default,
            min=self.spec.min,
            max=self.spec.max,
            choices=self.spec.choices,
            doc=self.spec.doc,
            name=name,
        )

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._values[self.spec.name]


def param(
    default: int | float | bool | str,
    *,
    min: float | None = None,  # noqa: A002 - mirrors the public spelling param(10, min=2, max=200)
    max: float | None = None,  # noqa: A002
    choices: tuple[Any, ...] | list[Any] | None = None,
    doc: str = "",
) -> Any:
    """Declare a strategy parameter with a default, an optional range and a doc line."""
    return _ParamDescriptor(
        Param(default=default, min=min, max=max, choices=tuple(choices) if choices else None, doc=doc)
    )


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Strategy:
    """Base class of every strategy. Subclass, declare params, implement `target`."""

    name: ClassVar[str] = ""
    multi_asset: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or not cls.__dict__["name"]:
            cls.name = _snake(cls.__name__)
        # Only package strategies go into the name registry; file strategies load by path.
        if cls.__module__.startswith("quantdesk.strategies."):
            _registry[cls.name] = cls

    def __init__(self, **params: Any) -> None:
        specs = self.params()
        unknown = set(params) - set(specs)
        if unknown:
            raise StrategyError(
                f"{type(self).__name__} has no parameter {sorted(unknown)}; its parameters are {sorted(specs)}"
            )
        self._values: dict[str, Any] = {
            n: spec.coerce(params[n]) if n in params else spec.default for n, spec in specs.items()
        }
        self.validate()

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Return the declared parameters, in declaration order (base classes first)."""
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, _ParamDescriptor):
                    out[attr] = value.spec
        return out

    @property
    def values(self) -> dict[str, Any]:
        """Return this instance's parameter values."""
        return dict(self._values)

    def validate(self) -> None:
        """Check relations between parameters (e.g. fast < slow); raise StrategyError if broken."""

    @property
    def warmup(self) -> int:
        """Bars of history `target` needs before its output is meaningful.

        The default is the largest integer parameter; override when that is wrong.
        """
        ints = [v for v in self._values.values() if isinstance(v, int) and not isinstance(v, bool)]
        return max(ints, default=1)

    def target(self, candles: Any) -> Any:
        """Return the target exposure in [-1, 1] for each bar, decided at that bar's close."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({args})"


