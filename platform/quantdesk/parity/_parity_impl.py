"""Build a ParityReport: the runner's replay and `quantdesk.backtest.backtest` on the same candles."""

from __future__ import annotations

from typing import Any

import polars as pl

from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import DataError
from quantdesk.parity._common import align, load_window, resolve_deployment, to_utc
from quantdesk.parity._window import orders_frame
from quantdesk.parity.compare import compare_runs
from quantdesk.parity.parity import ParityReport

__all__ = ["backtest_targets", "build_parity_report", "replay_fills"]


def backtest_targets(positions: pl.DataFrame, symbols: tuple[str, ...]) -> pl.DataFrame:
    """Return a backtest's `positions` (ts, target_<symbol>, ...) as a long frame `ts, symbol, target`."""
    return pl.concat([
        positions.select("ts", pl.lit(s, dtype=pl.String).alias("symbol"), pl.col(f"target_{s}").alias("target"))
        for s in symbols
    ])


def replay_fills(fills: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    """Return a replay's fills with `ts` moved to the open of the bar they filled in."""
    return fills.select(
        pl.col("ts").dt.cast_time_unit("ms").dt.truncate(timeframe), "symbol", "side", "qty", "price", "fee")


def _rules(spec: Any) -> MarketRules:
    # The backtest takes one set of rules; deployments on several markets with different
    # rules cannot be compared fill for fill, so say so instead of comparing wrongly.
    rules = {spec.rules.get(s, MarketRules()) for s in spec.symbols}
    if len(rules) > 1:
        raise DataError(
            f"deployment {spec.name!r} has different market rules per symbol ({sorted(map(str, rules))}); "
            "the backtest takes one set: check parity one symbol at a time"
        )
    return rules.pop()


def build_parity_report(
    ledger: Any, deployment: Any, start: Any, end: Any, *, strict: bool, lake: Any, rel_tol: float,
    frames: dict[str, pl.DataFrame] | None = None, replay_overrides: dict[str, Any] | None = None,
) -> ParityReport:
    """Replay `deployment` over [start, end) and compare it with a backtest of the same candles."""
    from quantdesk.backtest import backtest
    from quantdesk.live import RunSpec, replay

    if isinstance(deployment, str):
        from quantdesk.promotion import get_deployment

        deployment = get_deployment(ledger, deployment)
    spec = resolve_deployment(ledger, deployment)
    first, last = to_utc(start, "start"), to_utc(end, "end")
    if last <= first:
        raise DataError(f"the window [{first}, {last}) is empty; give an --end after --start")
    if frames is None:
        frames = load_window(lake, spec, first, last)
    else:
        frames = align({s: frames[s].filter((pl.col("ts") >= first) & (pl.col("ts") < last)) for s in spec.symbols})
    rules = _rules(spec)
    options: dict[str, Any] = {}
    replayed = deployment
    if replay_overrides:
        replayed = RunSpec.from_deployment(deployment, **replay_overrides)
        if hasattr(deployment, "risk_profile"):  # keep the deployment's risk limits
            from quantdesk.promotion import risk_config_for

            options["risk"] = risk_config_for(deployment)
    result = replay(replayed, first, last, strict=strict, frames=frames, **options)
    bt = backtest(
        spec.strategy, dict(frames), params=dict(spec.params), cost=spec.cost, initial_cash=float(spec.capital),
        rules=rules, allow_short=spec.allow_short, timeframe=spec.timeframe, rebalance=spec.rebalance,
        lookahead_samples=0, store=False,
    )
    differences = compare_runs(
        backtest_targets=backtest_targets(bt.positions, spec.symbols),
        replay_targets=result.targets.select("ts", "symbol", "target"),
        backtest_fills=orders_frame(bt.orders),
        replay_fills=replay_fills(result.fills, spec.timeframe),
        rel_tol=rel_tol,
    )
    denied = [
        {"ts": ts.isoformat() if ts is not None else None, "symbol": symbol, "code": code, "detail": detail}
        for ts, symbol, code, detail in result.denied.select("ts", "symbol", "code", "detail").iter_rows()
    ]
    return ParityReport(
        deployment=spec.name, strategy=bt.strategy, mode=result.mode, start=first, end=last,
        symbols=tuple(spec.symbols), timeframe=spec.timeframe, bars=result.bars, backtest_orders=len(bt.orders),
        replay_fills=len(result.fills), rel_tol=rel_tol, differences=tuple(differences),
        extra={"denied": denied, "replay": result.summary(), "fee_bps": spec.cost.fee_bps,
               "slippage_bps": spec.cost.slippage_bps, "capital": float(spec.capital)},
    )
