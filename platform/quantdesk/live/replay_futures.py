"""Replay of a futures deployment: the runner, the gate and a paper perpetual, bar by bar.

The futures backtest's order of events each bar (`quantdesk.backtest.futures_kernel`), with
the live parts doing the work:

1. at the open, a changed target is sized on the deployment's `FuturesBook` and sent by
   `Runner.execute` through the `GatedBroker` (risk gate with the paper account's leverage,
   scratch ledger) to the `PaperBroker`, which fills it at the open with the cost model;
2. a funding settlement inside the bar is settled by the paper broker and booked at the
   mark open;
3. the mark bar is fed to the paper broker, which liquidates a position whose price it
   reaches (an `autoclose-` order and fill, reconciled into the ledger at once); the book
   loses the margin, as the backtest does;
4. equity is marked at the close.

Funding rates and mark candles come from the lake (or `funding=` / `mark=`), aligned to the
bars exactly as the backtest aligns them, so a replay and a backtest of the same deployment
agree fill for fill (tests/live/test_replay_futures.py).
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError, LookaheadError
from quantdesk.core.timeframes import check_window
from quantdesk.live.futures_book import FuturesBook
from quantdesk.live.replay_parts import (
    ReplayResult,
    aligned_frames,
    denied_frame,
    fills_frame,
    harness,
    load_frames,
)
from quantdesk.live.scratch import scratch_url
from quantdesk.live.spec import RunSpec

__all__ = ["replay_futures"]


def replay_futures(
    deployment_or_spec: Any,
    start: datetime | str | int,
    end: datetime | str | int,
    *,
    lake: Any = None,
    frames: dict[str, pl.DataFrame] | None = None,
    funding: pl.DataFrame | None = None,
    mark: pl.DataFrame | None = None,
    ledger_url: str | None = None,
    risk: Any = None,
    lookahead_samples: int = 8,
) -> ReplayResult:
    """Replay a futures deployment over [start, end); see the module doc. Fast mode (targets once)."""
    from quantdesk.backtest.engine import resolve_strategy
    from quantdesk.backtest.futures import align_funding, align_mark, lake_inputs
    from quantdesk.backtest.lookahead import check_lookahead, target_matrix

    spec = RunSpec.from_deployment(deployment_or_spec)
    if spec.market != "futures":
        raise BacktestError(f"{spec.name} trades {spec.market}; replay it with `replay`")
    t0, t1 = check_window(start, end)
    if t0 is None or t1 is None or t0 >= t1:
        raise BacktestError(f"replay needs --start before --end, got {start!r} and {end!r}")
    [symbol] = spec.symbols
    raw = frames if frames is not None else load_frames(spec, t0, t1, lake)
    data = aligned_frames({symbol: raw[symbol].filter((pl.col("ts") >= t0) & (pl.col("ts") < t1))})
    frame = data[symbol]
    if frames is None and (funding is None or mark is None):
        from quantdesk.backtest.data import LakeQuery

        query = LakeQuery.of(symbol, spec.timeframe, exchange=spec.data_exchange)
        lake_funding, lake_mark = lake_inputs(query, frame, spec.data_exchange, lake)
        funding = lake_funding if funding is None else funding
        mark = lake_mark if mark is None else mark
    rates = align_funding(frame["ts"], funding, spec.timeframe)
    m_open, m_high, m_low, fallback = align_mark(frame, mark)
    ts = frame["ts"]
    ts_ms = ts.cast(pl.Datetime("ms", "UTC")).cast(pl.Int64).to_numpy()
    opens, closes = frame["open"].to_numpy(), frame["close"].to_numpy()
    n = len(ts_ms)

    instance, _ = resolve_strategy(spec.strategy, dict(spec.params))
    verdict = check_lookahead(instance, data, samples=lookahead_samples) if lookahead_samples else None
    if verdict is not None and not verdict.passed:
        raise LookaheadError(f"replay needs a clean lookahead verdict: {verdict.message()}")
    targets = np.clip(target_matrix(instance, data)[:, 0], -1.0 if spec.allow_short else 0.0, 1.0)

    ledger_url = ledger_url or scratch_url()
    clock, ledger, paper, gated, runner = harness(deployment_or_spec, spec, data, ts_ms, ledger_url, risk)
    book = FuturesBook(cash=float(spec.capital), leverage=float(spec.leverage))

    equity, liquidations, sent = np.empty(n), [], 0
    began = time.perf_counter()
    for i in range(n):
        clock.set(int(ts_ms[i]))
        if i >= 1 and (spec.rebalance or i == 1 or targets[i - 1] != targets[i - 2]):  # 1. the open
            sent += len(runner.execute(int(ts_ms[i - 1]), {symbol: float(targets[i - 1])},
                                       {symbol: float(opens[i])}, book))
        if not math.isnan(rates[i]) and book.position(symbol) != 0.0:  # 2. funding
            paper.settle_funding(symbol, float(rates[i]), mark=float(m_open[i]))
            book.fund(symbol, float(m_open[i]), float(rates[i]))
        event = paper.update_mark(symbol, low=float(m_low[i]), high=float(m_high[i]),  # 3. liquidation
                                  close=float(m_open[i]), open=float(m_open[i]))
        if event is not None:
            lost = book.liquidate(symbol)
            gated.sync_fills()  # the autoclose fill reaches the ledger, as a reconcile brings it live
            liquidations.append({"ts": ts[i].isoformat(), "price": float(event.price), "qty": float(event.qty),
                                 "margin_lost": lost})
        equity[i] = book.value({symbol: float(closes[i])})  # 4. the close
    elapsed = time.perf_counter() - began

    fills = fills_frame(ledger, spec, ts_ms)
    denied = denied_frame(ledger, spec)
    ledger.close()
    return ReplayResult(
        deployment=spec.name, mode="fast", start=t0, end=t1, symbols=spec.symbols, timeframe=spec.timeframe,
        bars=n, targets=pl.DataFrame({"ts": ts, "symbol": [symbol] * n, "target": targets}),
        fills=fills, equity=pl.DataFrame({"ts": ts, "equity": equity, "cash": equity}), denied=denied,
        orders_sent=sent, elapsed_s=elapsed, ledger_url=ledger_url,
        extra={"market": "futures", "leverage": float(spec.leverage), "funding_paid": book.funding_paid,
               "liquidations": liquidations, "mark_fallback_bars": fallback,
               "paper_position": float(paper.futures_position(symbol).qty)},  # type: ignore[union-attr]
    )
