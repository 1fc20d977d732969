"""Replay: drive the live runner over lake history on a simulated clock, at full speed.

Everything after the target — sizing, intents, risk gate, paper broker, ledger — runs bar
by bar through the same `Runner.execute` as live, on a scratch ledger, with the backtest's
execution semantics (target at bar t's close filled at bar t+1's open, same CostModel, same
vectorbt sizing). `strict=True` also recomputes `target()` at every bar from the trailing
window, exactly as live (`Runner.step`); the default fast mode computes targets once over
the range, which is allowed only when the strategy's lookahead verdict is clean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError, LookaheadError
from quantdesk.core.timeframes import check_window, timeframe_ms
from quantdesk.live.scratch import ScratchLedger, scratch_url
from quantdesk.live.sizing import Account
from quantdesk.live.spec import RunSpec

__all__ = ["ReplayResult", "replay"]


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


class _FrameMarket:
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


def _load_frames(spec: RunSpec, start: datetime, end: datetime, lake: Any) -> dict[str, pl.DataFrame]:
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    from quantdesk.lake import closed_candles

    frames = {s: closed_candles(lake.candles(s, spec.timeframe, start=start, end=end, exchange=spec.data_exchange))
              for s in spec.symbols}
    return frames


def _aligned(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
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


def replay(
    deployment_or_spec: Any,
    start: datetime | str | int,
    end: datetime | str | int,
    *,
    strict: bool = False,
    lake: Any = None,
    frames: dict[str, pl.DataFrame] | None = None,
    ledger_url: str | None = None,
    risk: Any = None,
    lookahead_samples: int = 8,
) -> ReplayResult:
    """Replay a deployment (a promotion `Deployment`, a `RunSpec`) over [start, end) of lake history.

    `frames` ({symbol: candles}) replaces the lake. The replay writes to a scratch ledger
    (`ledger_url`, default a temporary SQLite file), never to the deployment's own.
    `risk` is a `RiskConfig` (default: the deployment's, from quantdesk.toml and its overrides).
    Raise LookaheadError in fast mode when the strategy's lookahead verdict is not clean.
    Example: `replay(get_deployment(ledger, "alpha"), "2024-01-01", "2024-02-01", strict=True)`.
    """
    from quantdesk.backtest.engine import order_sizes, resolve_strategy
    from quantdesk.backtest.lookahead import check_lookahead, target_matrix

    spec = RunSpec.from_deployment(deployment_or_spec)
    if spec.market == "futures":  # a perpetual: funding and the mark take part each bar
        if strict:
            raise BacktestError(f"{spec.name} trades a perpetual: replay it without --strict (the futures replay "
                                "computes targets once, after the lookahead check)")
        from quantdesk.live.replay_futures import replay_futures

        return replay_futures(deployment_or_spec, start, end, lake=lake, frames=frames, ledger_url=ledger_url,
                              risk=risk, lookahead_samples=lookahead_samples)
    t0, t1 = check_window(start, end)
    if t0 is None or t1 is None or t0 >= t1:
        raise BacktestError(f"replay needs --start before --end, got {start!r} and {end!r}")
    raw = frames if frames is not None else _load_frames(spec, t0, t1, lake)
    raw = {s: raw[s] for s in spec.symbols}
    data = _aligned({s: f.filter((pl.col("ts") >= t0) & (pl.col("ts") < t1)) for s, f in raw.items()})
    symbols = spec.symbols
    ts = next(iter(data.values()))["ts"]
    ts_ms = ts.cast(pl.Datetime("ms", "UTC")).cast(pl.Int64).to_numpy()
    n = len(ts_ms)
    opens = np.column_stack([data[s]["open"].to_numpy() for s in symbols])
    closes = np.column_stack([data[s]["close"].to_numpy() for s in symbols])

    instance, _ = resolve_strategy(spec.strategy, dict(spec.params))
    if not strict:
        verdict = check_lookahead(instance, data, samples=lookahead_samples)
        if not verdict.passed:
            raise LookaheadError(
                f"fast replay needs a clean lookahead verdict: {verdict.message()}; "
                "replay with --strict, which recomputes targets bar by bar as live does")

    ledger_url = ledger_url or scratch_url()
    clock, ledger, _paper, _gated, runner = _harness(deployment_or_spec, spec, data, ts_ms, ledger_url, risk)
    account = Account(cash=float(spec.capital))
    step = timeframe_ms(spec.timeframe)

    began = time.perf_counter()
    sent = 0
    if strict:
        target_rows = np.zeros((n, len(symbols)))
        for i in range(n):
            clock.set(int(ts_ms[i]) + step if i + 1 >= n else int(ts_ms[i + 1]))
            prices = None if i + 1 >= n else dict(zip(symbols, opens[i + 1].tolist(), strict=True))
            outcome = runner.step(int(ts_ms[i]), prices=prices, account=account, trade=i + 1 < n, continuous=True)
            if not outcome.ok:
                raise BacktestError(f"strict replay stopped at bar {outcome.bar_ts}: {outcome.skipped}: "
                                    f"{outcome.detail}")
            target_rows[i] = [outcome.targets[s] for s in symbols]
            sent += len(outcome.orders)
        targets = target_rows
    else:
        targets = target_matrix(instance, data)
        if not spec.allow_short:
            targets = np.clip(targets, 0.0, 1.0)
        sizes = order_sizes(targets, rebalance=spec.rebalance)
        rows = np.flatnonzero(~np.isnan(sizes).all(axis=1))
        for i in rows.tolist():
            clock.set(int(ts_ms[i]))
            prices = dict(zip(symbols, opens[i].tolist(), strict=True))
            wanted = {s: float(sizes[i, k]) for k, s in enumerate(symbols) if not np.isnan(sizes[i, k])}
            sent += len(runner.execute(int(ts_ms[i - 1]), wanted, prices, account))
    elapsed = time.perf_counter() - began

    fills = _fills_frame(ledger, spec, ts_ms)
    equity = _equity(fills, symbols, ts, ts_ms, closes, float(spec.capital))
    denied = _denied(ledger, spec)
    ledger.close()
    targets_frame = pl.concat([
        pl.DataFrame({"ts": ts, "symbol": [s] * n, "target": targets[:, k]}) for k, s in enumerate(symbols)
    ]).sort("ts", "symbol")
    return ReplayResult(
        deployment=spec.name, mode="strict" if strict else "fast", start=t0, end=t1, symbols=symbols,
        timeframe=spec.timeframe, bars=n, targets=targets_frame, fills=fills, equity=equity, denied=denied,
        orders_sent=sent, elapsed_s=elapsed, ledger_url=ledger_url,
    )


def _harness(deployment_or_spec: Any, spec: RunSpec, data: dict[str, pl.DataFrame], ts_ms: np.ndarray,
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
        risk = _risk_for(deployment_or_spec, spec)
    # nobody halts a replay from another process: read the trading state once, not per order
    gate = RiskGate(risk if isinstance(risk, RiskConfig) else RiskConfig.from_dict(risk), clock, ledger,
                    state_refresh_ms=2**62)
    paper = PaperBroker(name=spec.venue, clock=clock, cost_model=spec.cost, rules=dict(spec.rules),
                        run_id="replay")  # a fresh scratch ledger: fixed ids keep replays identical
    if spec.market == "futures":
        paper.set_leverage(spec.symbols[0], int(spec.leverage))
    gated = GatedBroker(paper, ledger, gate, venue=spec.venue, account=spec.account, clock=clock,
                        actor="replay", market_rules=dict(spec.rules))
    runner = Runner(spec, ledger=ledger, gated=gated, market=_FrameMarket(data, ts_ms), clock=clock,
                    reconcile_every_bar=False, follow_timeout_s=0.0)
    runner.start()
    return clock, ledger, paper, gated, runner


def _risk_for(deployment: Any, spec: RunSpec) -> Any:
    from quantdesk.risk import RiskConfig

    if hasattr(deployment, "risk_profile"):
        from quantdesk.promotion.deployment import risk_config_for

        return risk_config_for(deployment)
    if spec.risk:
        return RiskConfig.from_dict({"deployments": {spec.name: dict(spec.risk)}})
    return RiskConfig.from_settings()


def _fills_frame(ledger: Any, spec: RunSpec, ts_ms: np.ndarray) -> pl.DataFrame:
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


def _equity(fills: pl.DataFrame, symbols: tuple[str, ...], ts: pl.Series, ts_ms: np.ndarray,
            closes: np.ndarray, capital: float) -> pl.DataFrame:
    n = len(ts_ms)
    cash_delta = np.zeros(n)
    pos_delta = np.zeros((n, len(symbols)))
    column = {s: k for k, s in enumerate(symbols)}
    for bar, symbol, side, qty, price, fee in fills.select("bar", "symbol", "side", "qty", "price", "fee").iter_rows():
        signed = qty if side == "buy" else -qty
        cash_delta[bar] -= signed * price + fee
        pos_delta[bar, column[symbol]] += signed
    cash = capital + np.cumsum(cash_delta)
    positions = np.cumsum(pos_delta, axis=0)
    equity = cash + (positions * closes).sum(axis=1)
    return pl.DataFrame({"ts": ts, "equity": equity, "cash": cash})


def _denied(ledger: Any, spec: RunSpec) -> pl.DataFrame:
    events = ledger.risk_events(deployment=spec.name)
    return pl.DataFrame({
        "ts": [e.ts for e in events], "symbol": [e.symbol for e in events],
        "code": [e.code for e in events], "detail": [e.detail for e in events],
    }, schema={"ts": pl.Datetime("ms", "UTC"), "symbol": pl.String, "code": pl.String, "detail": pl.String})
