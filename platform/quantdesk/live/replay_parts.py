"""The parts a spot and a futures replay share: the record, the candles held in memory, the live
path a replay drives (scratch ledger, risk gate, paper broker, runner) and the frames read back.

Below `replay` and `replay_futures` (both import this; it imports neither), so the two replays
no longer import each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError
from quantdesk.live.scratch import ScratchLedger
from quantdesk.live.spec import RunSpec

__all__ = ["FrameMarket", "ReplayResult", "aligned_frames", "denied_frame", "fills_frame", "harness", "load_frames",
           "risk_for"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """A replay's record: targets per bar, fills, equity per bar and the gate's denials.

    `targets`: ts, symbol, target (decided at that bar's close). `fills`: ts (the bar whose
    open filled it), bar, symbol, side, qty, price, fee, client_order_id. `equity`: ts,
    equity, cash (marked at each close). `denied`: ts, symbol, code, detail.
    """

    deployment: str
    mode: str  # "fast" or "strict"
    start: datetime
    end: datetime
    symbols: tuple[str, ...]
    timeframe: str
    bars: int
    targets: pl.DataFrame
    fills: pl.DataFrame
    equity: pl.DataFrame
    denied: pl.DataFrame
    orders_sent: int
    elapsed_s: float
    ledger_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        last = float(self.equity["equity"][-1]) if len(self.equity) else None
        return {
            "deployment": self.deployment, "mode": self.mode, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "symbols": list(self.symbols), "timeframe": self.timeframe,
            "bars": self.bars, "orders_sent": self.orders_sent, "fills": len(self.fills),
            "denied": len(self.denied), "final_equity": last, "elapsed_s": round(self.elapsed_s, 6),
            "bars_per_s": round(self.bars / self.elapsed_s, 1) if self.elapsed_s > 0 else None,
            "ledger": self.ledger_url,
        }


class FrameMarket:
    """Candles held in memory, served by bar index as the lake would serve them live."""

    def __init__(self, frames: dict[str, pl.DataFrame], ts_ms: np.ndarray) -> None:
        self.frames = frames
        self.ts_ms = ts_ms  # sorted: a bar's index is a binary search (a dict of 525k bars cost 60 ms to build)
        self.low = 0  # replay history starts at the range start, like the backtest's

    def refresh(self, bar_ms: int) -> None:
        """Nothing to fetch: history is all there."""

    def window(self, bar_ms: int, bars: int) -> dict[str, pl.DataFrame]:
        i = int(np.searchsorted(self.ts_ms, bar_ms))
        if i >= len(self.ts_ms) or self.ts_ms[i] != bar_ms:
            raise KeyError(bar_ms)
        lo = max(self.low, i - bars + 1)
        return {s: f.slice(lo, i - lo + 1) for s, f in self.frames.items()}


def load_frames(spec: RunSpec, start: datetime, end: datetime, lake: Any) -> dict[str, pl.DataFrame]:
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    from quantdesk.lake import closed_candles

    frames = {s: closed_candles(lake.candles(s, spec.timeframe, start=start, end=end, exchange=spec.data_exchange))
              for s in spec.symbols}
    return frames


def aligned_frames(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    out = {s: f.select("ts", "open", "high", "low", "close", "volume").sort("ts") for s, f in frames.items()}
    lengths = {s: len(f) for s, f in out.items()}
    if min(lengths.values()) < 2:
        raise BacktestError(f"replay needs at least 2 bars per symbol, got {lengths}; widen --start/--end")
    first = next(iter(out.values()))["ts"]
    for s, f in out.items():
        if len(f) != len(first) or not f["ts"].equals(first):
            raise BacktestError(f"candles of {s} are not on the same bars as {next(iter(out))}; "
                                "fill the lake's gaps (quantdesk ingest) or replay the symbols separately")
    return out


def harness(deployment_or_spec: Any, spec: RunSpec, data: dict[str, pl.DataFrame], ts_ms: np.ndarray,
             ledger_url: str, risk: Any) -> tuple[Any, ScratchLedger, Any, Any, Any]:
    """Return (clock, ledger, paper broker, gated broker, runner): the live path a replay drives, started.

    A scratch ledger at `ledger_url`, the risk gate (`risk`, default the deployment's), a paper
    broker behind the gated broker (a perpetual's at the deployment's leverage) and the runner
    over the candles held in memory.
    """
    from quantdesk.broker import GatedBroker, PaperBroker
    from quantdesk.core.clock import ManualClock
    from quantdesk.live.runner import Runner
    from quantdesk.risk import RiskConfig, RiskGate

    clock = ManualClock(int(ts_ms[0]))
    ledger = ScratchLedger(ledger_url, clock=clock)
    if risk is None:
        risk = risk_for(deployment_or_spec, spec)
    # nobody halts a replay from another process: read the trading state once, not per order
    gate = RiskGate(risk if isinstance(risk, RiskConfig) else RiskConfig.from_dict(risk), clock, ledger,
                    state_refresh_ms=2**62)
    paper = PaperBroker(name=spec.venue, clock=clock, cost_model=spec.cost, rules=dict(spec.rules),
                        run_id="replay")  # a fresh scratch ledger: fixed ids keep replays identical
    if spec.market == "futures":
        paper.set_leverage(spec.symbols[0], int(spec.leverage))
    gated = GatedBroker(paper, ledger, gate, venue=spec.venue, account=spec.account, clock=clock,
                        actor="replay", market_rules=dict(spec.rules))
    runner = Runner(spec, ledger=ledger, gated=gated, market=FrameMarket(data, ts_ms), clock=clock,
                    reconcile_every_bar=False, follow_timeout_s=0.0)
    runner.start()
    return clock, ledger, paper, gated, runner


def risk_for(deployment: Any, spec: RunSpec) -> Any:
    from quantdesk.risk import RiskConfig

    if hasattr(deployment, "risk_profile"):
        from quantdesk.promotion.deployment import risk_config_for

        return risk_config_for(deployment)
    if spec.risk:
        return RiskConfig.from_dict({"deployments": {spec.name: dict(spec.risk)}})
    return RiskConfig.from_settings()


def fills_frame(ledger: Any, spec: RunSpec, ts_ms: np.ndarray) -> pl.DataFrame:
    rows = ledger.fills(venue=spec.venue, account=spec.account)
    fill_ms = np.array([int(f.ts.timestamp() * 1000) for f in rows], dtype=np.int64)
    bars = np.searchsorted(ts_ms, fill_ms) if len(rows) else np.array([], dtype=np.int64)
    return pl.DataFrame({
        "ts": [f.ts for f in rows], "bar": bars.astype(np.int64), "symbol": [f.symbol for f in rows],
        "side": [str(f.side) for f in rows], "qty": [float(f.qty) for f in rows],
        "price": [float(f.price) for f in rows], "fee": [float(f.fee) for f in rows],
        "client_order_id": [f.client_order_id for f in rows],
    }, schema={"ts": pl.Datetime("ms", "UTC"), "bar": pl.Int64, "symbol": pl.String, "side": pl.String,
               "qty": pl.Float64, "price": pl.Float64, "fee": pl.Float64, "client_order_id": pl.String})


def denied_frame(ledger: Any, spec: RunSpec) -> pl.DataFrame:
    events = ledger.risk_events(deployment=spec.name)
    return pl.DataFrame({
        "ts": [e.ts for e in events], "symbol": [e.symbol for e in events],
        "code": [e.code for e in events], "detail": [e.detail for e in events],
    }, schema={"ts": pl.Datetime("ms", "UTC"), "symbol": pl.String, "code": pl.String, "detail": pl.String})
