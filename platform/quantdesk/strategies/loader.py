"""Load a strategy class by registered name (`sma_cross`) or by file (`path/to/file.py:ClassName`)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from quantdesk.core.errors import StrategyError
from quantdesk.strategies.base import Strategy, registry

__all__ = ["load_strategy", "strategy_source_hash"]


def load_strategy(ref: str) -> type[Strategy]:
    """Return the strategy class named by `ref`: a registered name or `file.py:ClassName`."""
    if ":" in ref and ref.split(":", 1)[0].endswith(".py"):
        return _load_from_file(*ref.split(":", 1))
    if ref.endswith(".py"):
        raise StrategyError(f"strategy file {ref!r} needs a class name: use {ref}:ClassName")
    import quantdesk.strategies.builtin  # noqa: F401  - registers the built-ins

    known = registry()
    if ref not in known:
        raise StrategyError(
            f"no strategy named {ref!r}; registered: {', '.join(sorted(known)) or 'none'} "
            "(or give a file as path/to/file.py:ClassName)"
        )
    return known[ref]


def _load_from_file(path_str: str, class_name: str) -> type[Strategy]:
    path = Path(path_str).expanduser().resolve()
    if not path.exists():
        raise StrategyError(f"strategy file {path} does not exist")
    module_name = f"quantdesk_user_strategy_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise StrategyError(f"importing {path} failed: {type(e).__name__}: {e}") from e
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        found = [n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, Strategy) and v is not Strategy]
        raise StrategyError(f"{path} has no Strategy subclass {class_name!r}; found {found}")
    return cls


def strategy_source_hash(cls: type[Strategy]) -> str:
    """Return the sha256 of the source of the strategy's module (the code hash runs pin to)."""
    try:
        source = inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError) as e:
        raise StrategyError(f"cannot read the source of {cls.__name__} to hash it: {e}") from e
    return hashlib.sha256(source.encode()).hexdigest()
