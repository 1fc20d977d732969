"""Re-run a stored backtest from what was stored and compare the results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.data import LakeQuery
from quantdesk.backtest.store import load_run
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["Reproduction", "reproduce"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reproduction:
    """The outcome of re-running a stored run: does everything match, and if not, what differs."""

    run_id: str
    matches: bool
    code_hash_matches: bool
    data_matches: bool
    differences: dict[str, Any] = field(default_factory=dict)
    new_run: Any = None


def _close(a: Any, b: Any, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return a == b


def reproduce(run_id: str, *, rel_tol: float = 1e-9, lake: Any = None) -> Reproduction:
    """Re-run stored backtest `run_id` (same strategy, params, data, costs) and compare metrics and equity.

    The strategy is reloaded by its stored reference; a changed source file shows up as
    `code_hash_matches=False`. Candles come from the run folder, or from the lake for lake runs
    (a changed lake shows up as `data_matches=False`).
    """
    from quantdesk.backtest.engine import backtest

    run = load_run(run_id)
    rec = run.record
    if run.kind != "backtest":
        raise BacktestError(f"run {run_id} is a {run.kind} run; reproduce works on backtest runs")
    cls = load_strategy(rec["strategy_ref"])
    snap = rec["snapshot"]
    if snap["source"] == "lake":
        q = snap["query"]
        data: Any = LakeQuery(symbols=tuple(q["symbols"]), timeframe=q["timeframe"], start=q["start"],
                              end=q["end"], exchange=q["exchange"])
    else:
        candles = run.table("candles")
        data = {s: candles.filter(pl.col("symbol") == s).drop("symbol") for s in snap["symbols"]}
    look = rec.get("lookahead")
    common: dict[str, Any] = {
        "params": rec["params"], "cost": CostModel(**rec["cost"]), "rules": MarketRules(**rec["rules"]),
        "initial_cash": rec["initial_cash"], "allow_short": rec["allow_short"],
        "rebalance": rec.get("rebalance", False), "timeframe": snap["timeframe"],
        "lookahead_samples": len(look["checked_bars"]) if look else 0, "store": False, "lake": lake,
    }
    extra = rec.get("extra") or {}
    if extra.get("market") == "futures":
        from quantdesk.backtest.futures import futures_backtest
        from quantdesk.core.margin import MarginTiers

        tiers = MarginTiers.from_brackets(list(zip(extra["tiers"]["floors"], extra["tiers"]["rates"], strict=True)))
        inputs: dict[str, Any] = {}
        if snap["source"] != "lake":  # a lake run re-reads funding and marks, so a changed lake shows
            stored = run.table("futures_inputs")
            inputs["funding"] = stored.filter(pl.col("funding_rate").is_not_nan()).select(
                "ts", pl.col("funding_rate").alias("rate"))
            inputs["mark"] = stored.select("ts", pl.col("mark_open").alias("open"), pl.col("mark_high").alias("high"),
                                           pl.col("mark_low").alias("low"))
        result = futures_backtest(cls, data, leverage=extra["leverage"], tiers=tiers, **inputs, **common)
    else:
        result = backtest(cls, data, **common)
    differences: dict[str, Any] = {}
    new_metrics = result.metrics.to_json()
    for name, stored in rec["metrics"].items():
        if not _close(stored, new_metrics.get(name), rel_tol):
            differences[name] = {"stored": stored, "new": new_metrics.get(name)}
    old_eq = run.table("equity")["equity"].to_numpy()
    new_eq = result.equity["equity"].to_numpy()
    if len(old_eq) != len(new_eq) or not np.allclose(old_eq, new_eq, rtol=rel_tol, atol=0.0):
        differences["equity"] = {"stored_final": float(old_eq[-1]), "new_final": float(new_eq[-1]),
                                 "stored_bars": len(old_eq), "new_bars": len(new_eq)}
    code_ok = strategy_source_hash(cls) == rec["code_hash"]
    data_ok = result.snapshot.checksum == snap["checksum"]
    return Reproduction(run_id=run_id, matches=not differences and code_ok and data_ok,
                        code_hash_matches=code_ok, data_matches=data_ok, differences=differences,
                        new_run=result)
