"""Replay parity: the runner's replay must reproduce the backtest exactly (DESIGN.md, contracts 3 and 4).

The deployment is replayed over lake history (through the runner, risk gate, paper broker
and a scratch ledger) and backtested over the same candles with the same cost model. The
replayed targets must equal the backtest's bar for bar, exactly; the replayed fills must
equal the backtest's orders in quantity, price and fee within `rel_tol` relative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import check_window
from quantdesk.lake import Lake
from quantdesk.live.spec import RunSpec
from quantdesk.parity._common import align, as_run_spec, load_window, to_utc
from quantdesk.parity._window import orders_frame
from quantdesk.parity.compare import ParityDifference, compare_runs
from quantdesk.promotion import Deployment, risk_config_for

__all__ = ["ParityReport", "parity_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityReport:
    """A replay against its backtest; `ok` when there is no difference at all."""

    deployment: str
    strategy: str
    mode: str  # "fast" or "strict"
    start: datetime
    end: datetime
    symbols: tuple[str, ...]
    timeframe: str
    bars: int
    backtest_orders: int
    replay_fills: int
    rel_tol: float
    differences: tuple[ParityDifference, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return whether the replay matched the backtest everywhere."""
        return not self.differences

    def first_difference(self) -> ParityDifference | None:
        """Return the earliest difference (None when parity holds)."""
        return self.differences[0] if self.differences else None

    def lines(self, limit: int = 20) -> list[str]:
        """Return a human summary: one headline, then the first `limit` differences."""
        verdict = "PARITY OK" if self.ok else f"PARITY FAILED: {len(self.differences)} difference(s)"
        head = (f"{verdict} - {self.deployment} ({self.strategy}, {self.mode} replay) "
                f"{', '.join(self.symbols)} {self.timeframe}, {self.bars} bars, "
                f"{self.backtest_orders} backtest orders, {self.replay_fills} replay fills")
        out = [head]
        denied = self.extra.get("denied") or []
        if denied:
            codes = sorted({d["code"] for d in denied})
            out.append(f"{len(denied)} replayed order(s) denied by the risk gate ({', '.join(codes)})")
        out += [d.describe() for d in self.differences[:limit]]
        if len(self.differences) > limit:
            out.append(f"... and {len(self.differences) - limit} more (all of them with --json)")
        return out

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict with every difference."""
        return {
            "ok": self.ok, "deployment": self.deployment, "strategy": self.strategy, "mode": self.mode,
            "start": self.start.isoformat(), "end": self.end.isoformat(), "symbols": list(self.symbols),
            "timeframe": self.timeframe, "bars": self.bars, "backtest_orders": self.backtest_orders,
            "replay_fills": self.replay_fills, "rel_tol": self.rel_tol,
            "differences": [
                {"bar": d.bar, "ts": d.ts.isoformat(), "symbol": d.symbol, "kind": d.kind.value, "side": d.side,
                 "backtest": d.backtest, "replay": d.replay, "relative": d.relative}
                for d in self.differences
            ],
            **self.extra,
        }


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


def _rules(spec: RunSpec) -> MarketRules:
    # The backtest takes one set of rules; deployments on several markets with different
    # rules cannot be compared fill for fill, so say so instead of comparing wrongly.
    rules = {spec.rules.get(s, MarketRules()) for s in spec.symbols}
    if len(rules) > 1:
        raise DataError(
            f"deployment {spec.name!r} has different market rules per symbol ({sorted(map(str, rules))}); "
            "the backtest takes one set: check parity one symbol at a time"
        )
    return rules.pop()


def _parity_report(
    deployment: Deployment | RunSpec, start: datetime | str, end: datetime | str, *, strict: bool,
    lake: Lake | None, rel_tol: float, frames: dict[str, pl.DataFrame] | None,
    replay_overrides: dict[str, Any] | None,
) -> ParityReport:
    from quantdesk.backtest import backtest
    from quantdesk.live import replay

    spec = as_run_spec(deployment)
    first, last = to_utc(start, "start"), to_utc(end, "end")
    check_window(first, last)
    if frames is None:
        frames = load_window(lake, spec, first, last)
    else:
        frames = align({s: frames[s].filter((pl.col("ts") >= first) & (pl.col("ts") < last)) for s in spec.symbols})
    rules = _rules(spec)
    options: dict[str, Any] = {}
    replayed = deployment
    if replay_overrides:
        replayed = RunSpec.from_deployment(deployment, **replay_overrides)
        if isinstance(deployment, Deployment):  # keep the deployment's risk limits
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


def parity_report(
    deployment: Deployment | RunSpec,
    start: datetime | str,
    end: datetime | str,
    *,
    strict: bool = False,
    lake: Lake | None = None,
    rel_tol: float = 1e-9,
    frames: dict[str, pl.DataFrame] | None = None,
    replay_overrides: dict[str, Any] | None = None,
) -> ParityReport:
    """Replay `deployment` over [start, end) and compare it with a backtest of the same candles.

    `deployment` is a resolved `quantdesk.promotion.Deployment` (look a name up with
    `quantdesk.promotion.get_deployment`) or a `quantdesk.live.RunSpec`. The replay runs
    on a scratch ledger, never on the deployment's own history. `strict=True` replays with per-bar recomputation of targets, as live does.
    `frames` ({symbol: candles}) replaces the lake for both runs. `replay_overrides` changes
    RunSpec fields of the replay only (e.g. `{"cost": CostModel(fee_bps=12)}`), to see what
    a difference in the live path does to parity.
    Example: `parity_report(get_deployment(ledger, "btc-sma"), "2024-01-01", "2024-02-01").ok`.
    """
    return _parity_report(deployment, start, end, strict=strict, lake=lake, rel_tol=rel_tol,
                          frames=frames, replay_overrides=replay_overrides)
