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

from quantdesk.parity.compare import ParityDifference

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


def parity_report(
    ledger: Any,
    deployment: Any,
    start: datetime | str,
    end: datetime | str,
    *,
    strict: bool = False,
    lake: Any = None,
    rel_tol: float = 1e-9,
    frames: dict[str, Any] | None = None,
    replay_overrides: dict[str, Any] | None = None,
) -> ParityReport:
    """Replay `deployment` over [start, end) and compare it with a backtest of the same candles.

    `deployment` is a `quantdesk.promotion.Deployment`, a `quantdesk.live.RunSpec`, or a
    deployment name looked up in `ledger` (only then is `ledger` needed). The replay runs
    on a scratch ledger, never on the deployment's own history. `strict=True` replays with per-bar recomputation of targets, as live does.
    `frames` ({symbol: candles}) replaces the lake for both runs. `replay_overrides` changes
    RunSpec fields of the replay only (e.g. `{"cost": CostModel(fee_bps=12)}`), to see what
    a difference in the live path does to parity.
    Example: `parity_report(ledger, "btc-sma", "2024-01-01", "2024-02-01").ok`.
    """
    from quantdesk.parity._parity_impl import build_parity_report

    return build_parity_report(ledger, deployment, start, end, strict=strict, lake=lake, rel_tol=rel_tol,
                               frames=frames, replay_overrides=replay_overrides)
