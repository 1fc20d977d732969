"""quantdesk: a notebook-first research platform for crypto quants, with a promotion path to live.

The top-level namespace re-exports what notebooks use most. Imports are lazy so that
`import quantdesk` (and the CLI) stays fast; heavy libraries load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Lake": "quantdesk.lake",
    "Strategy": "quantdesk.strategies",
    "param": "quantdesk.strategies",
    "load_strategy": "quantdesk.strategies",
    "CostModel": "quantdesk.core",
    "MarketRules": "quantdesk.core",
    "QuantdeskError": "quantdesk.core",
    "get_settings": "quantdesk.core",
    "backtest": "quantdesk.backtest",
    "sweep": "quantdesk.backtest",
    "walk_forward": "quantdesk.backtest",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'quantdesk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
