"""Strategies written during research load by path and obey the same contract as the built-ins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdesk.backtest import check_lookahead
from quantdesk.core import StrategyError
from quantdesk.strategies import load_strategy, registry

RESEARCH = Path(__file__).resolve().parents[2] / "research" / "strategies"


def _candles(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, n)))
    return pl.DataFrame({"open": close, "high": close * 1.004, "low": close * 0.996, "close": close,
                         "volume": np.ones(n)})


@pytest.mark.parametrize("path", sorted(RESEARCH.glob("*.py")), ids=lambda p: p.name)
def test_research_strategies_load_and_pass_the_lookahead_check(path: Path) -> None:
    import ast

    classes = [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]
    assert classes, f"{path.name} defines no strategy class"
    for name in classes:
        cls = load_strategy(f"{path}:{name}")
        assert cls.name not in registry(), "file strategies load by path, not by registered name"
        small = {k: int(spec.min) for k, spec in cls.params().items() if spec.kind is int and spec.min}
        try:
            strategy = cls(**small)
        except StrategyError:
            strategy = cls()
        candles = _candles(200)
        target = strategy.target(candles)
        assert len(target) == 200 and target.is_between(-1, 1).all()
        verdict = check_lookahead(strategy, candles, samples=None)
        # Examples of what the check refuses say so in their first docstring line ("REPAINTS").
        refused = "REPAINTS" in (ast.get_docstring(ast.parse(path.read_text())) or "").splitlines()[0]
        assert verdict.passed is not refused, verdict.message()


def test_a_file_path_without_a_class_name_is_refused() -> None:
    with pytest.raises(StrategyError, match="ClassName"):
        load_strategy(str(RESEARCH / "breakout_with_trend.py"))
    with pytest.raises(StrategyError, match="no Strategy subclass"):
        load_strategy(f"{RESEARCH / 'breakout_with_trend.py'}:Nope")
