"""Golden results: sma_cross on real ETH/BTC 5m candles gives the stored metrics and trades.

Regenerate only with `scripts/regen_golden.py`, and review the diff of expected.json.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "regen_golden.py"

pytestmark = pytest.mark.realdata


def _regen_module():
    spec = importlib.util.spec_from_file_location("regen_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_sma_cross_on_eth_btc_matches_golden(shared_data: Path) -> None:
    expected = json.loads((GOLDEN / "expected.json").read_text())
    actual = _regen_module().run_case(shared_data)
    assert actual["checksum"] == expected["checksum"], "the shared dataset changed"
    diffs = {k: (v, actual["metrics"].get(k)) for k, v in expected["metrics"].items()
             if not _same(v, actual["metrics"].get(k))}
    assert not diffs, f"metrics moved: {diffs}"
    assert len(actual["trades"]) == len(expected["trades"])
    for got, want in zip(actual["trades"], expected["trades"], strict=True):
        assert all(_same(want[k], got[k]) for k in want), (want, got)


def test_real_data_fills_are_next_open_plus_slippage(shared_data: Path) -> None:
    regen = _regen_module()
    case = regen.load_case()
    candles = regen.load_candles(shared_data, case["dataset"])
    from quantdesk.backtest import backtest
    from quantdesk.core import CostModel

    result = backtest(case["strategy"], candles, params=case["params"], cost=CostModel(**case["cost"]),
                      store=False, lookahead_samples=0)
    slip = case["cost"]["slippage_bps"] / 1e4
    bars = candles.with_row_index("bar").select("bar", "ts", "open")
    trades = result.trades.join(bars.rename({"bar": "entry_bar", "open": "entry_open"}), left_on="entry_ts", right_on="ts")
    trades = trades.join(bars.rename({"bar": "exit_bar", "open": "exit_open"}), left_on="exit_ts", right_on="ts")
    assert trades.height == result.trades.height > 0
    assert ((trades["entry_price"] / (trades["entry_open"] * (1 + slip)) - 1).abs() < 1e-12).all()
    assert ((trades["exit_price"] / (trades["exit_open"] * (1 - slip)) - 1).abs() < 1e-12).all()
    target = result.positions["target_asset"]
    # The decision was made on the bar before the fill: long decided at entry-1, flat at exit-1.
    assert (target.gather(trades["entry_bar"] - 1) == 1.0).all()
    assert (target.gather(trades["exit_bar"] - 1) == 0.0).all()
    # ... and it was a change: the bar before the decision wanted something else.
    assert (target.gather(trades["entry_bar"] - 2) == 0.0).all()
