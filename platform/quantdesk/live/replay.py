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
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError, LookaheadError
from quantdesk.core.timeframes import check_window, timeframe_ms
from quantdesk.live.replay_parts import (
    ReplayResult,
    aligned_frames,
    denied_frame,
    fills_frame,
    harness,
    load_frames,
)
from quantdesk.live.scratch import scratch_url
from quantdesk.live.sizing import Account
from quantdesk.live.spec import RunSpec

__all__ = ["ReplayResult", "replay"]


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
    raw = frames if frames is not None else load_frames(spec, t0, t1, lake)
    raw = {s: raw[s] for s in spec.symbols}
    data = aligned_frames({s: f.filter((pl.col("ts") >= t0) & (pl.col("ts") < t1)) for s, f in raw.items()})
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
    clock, ledger, _paper, _gated, runner = harness(deployment_or_spec, spec, data, ts_ms, ledger_url, risk)
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

    fills = fills_frame(ledger, spec, ts_ms)
    equity = _equity(fills, symbols, ts, ts_ms, closes, float(spec.capital))
    denied = denied_frame(ledger, spec)
    ledger.close()
    targets_frame = pl.concat([
        pl.DataFrame({"ts": ts, "symbol": [s] * n, "target": targets[:, k]}) for k, s in enumerate(symbols)
    ]).sort("ts", "symbol")
    return ReplayResult(
        deployment=spec.name, mode="strict" if strict else "fast", start=t0, end=t1, symbols=symbols,
        timeframe=spec.timeframe, bars=n, targets=targets_frame, fills=fills, equity=equity, denied=denied,
        orders_sent=sent, elapsed_s=elapsed, ledger_url=ledger_url,
    )


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


