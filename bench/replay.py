"""Benchmark replay and live decisions of the runner; print JSON.

Run: .venv/bin/python bench/replay.py [--bars 525600] [--backtrader-bars 100000]

- fast replay: one year of 1m bars, one symbol, an SMA cross (1-day vs 3-day windows: a quiet
  strategy) and the same with 50/200-bar windows (an active one, ~3,400 orders: the figure
  that says what an order costs), through runner, risk gate, paper broker and (scratch) ledger; backtrader runs an equivalent
  SMA cross on the same bars in the same process for comparison;
- strict replay: target() recomputed every bar on a 1,000-bar trailing window, as live;
- live decision latency: bar close -> order handed to the broker, 20 symbols (one deployment
  each), paper broker, real SQLite ledger (fsync), candles as `quantdesk run` gets them: the
  updater fetches the closed bar from the venue (in memory here: no network time) into the
  market's in-memory window; the lake write follows the order.
Sustained rates: start-up (imports, JIT, ledger creation) is excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantdesk.strategies import Strategy, param

SYMBOL = "BTC/USDT"


class BenchSma(Strategy):
    """Long while the fast SMA of the close is above the slow one (windows in bars, no caps)."""

    fast = param(1440, min=2)
    slow = param(4320, min=3)

    @property
    def warmup(self) -> int:
        return self.slow

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        return (close.rolling_mean(self.fast) > close.rolling_mean(self.slow)).cast(pl.Float64).fill_null(0.0)


class BenchFlip(Strategy):
    """Flip between flat and half long every bar: every bar makes an order (latency bench)."""

    def target(self, candles: pl.DataFrame) -> pl.Series:
        minutes = candles["ts"].dt.epoch("ms") // 60_000
        return (minutes % 2).cast(pl.Float64) * 0.5


REF = f"{Path(__file__).resolve()}:BenchSma"
FLIP = f"{Path(__file__).resolve()}:BenchFlip"


def candles(n: int, seed: int = 0) -> pl.DataFrame:
    """Return n synthetic 1m candles (a geometric random walk)."""
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[30_000.0, close[:-1]]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ts = pl.datetime_range(start, start + timedelta(minutes=n - 1), "1m", time_unit="ms", time_zone="UTC", eager=True)
    return pl.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": rng.uniform(1, 20, n)})


def spec(strategy: str, params: dict[str, Any], **kw: Any) -> Any:
    from quantdesk.core.costs import CostModel, MarketRules
    from quantdesk.live import RunSpec

    return RunSpec(name="bench", strategy=strategy, params=params, symbols=kw.pop("symbols", (SYMBOL,)),
                   timeframe="1m", capital=100_000.0, cost=CostModel(fee_bps=10, slippage_bps=2),
                   rules=kw.pop("rules", {SYMBOL: MarketRules(lot_step=0.0001, min_qty=0.0001)}), **kw)


def bench_fast(frame: pl.DataFrame, params: dict[str, int] | None = None) -> dict[str, Any]:
    from quantdesk.live import replay

    end = frame["ts"][-1] + timedelta(minutes=1)
    s = spec(REF, params or {"fast": 1440, "slow": 4320})
    replay(s, frame["ts"][0], frame["ts"][20_000], frames={SYMBOL: frame.head(20_000)}, risk={})  # warm-up
    began = time.perf_counter()
    result = replay(s, frame["ts"][0], end, frames={SYMBOL: frame}, risk={}, lookahead_samples=4)
    total = time.perf_counter() - began
    orders = result.orders_sent
    return {"bars": result.bars, "orders": orders, "fills": len(result.fills),
            "bars_per_s_loop": round(result.bars / result.elapsed_s), "loop_s": round(result.elapsed_s, 3),
            "bars_per_s_end_to_end": round(result.bars / total), "end_to_end_s": round(total, 3),
            "ms_per_order": round(1000 * result.elapsed_s / max(orders, 1), 3)}


def bench_backtrader(frame: pl.DataFrame) -> dict[str, Any]:
    import backtrader as bt

    class SmaCross(bt.Strategy):
        params = (("fast", 1440), ("slow", 4320))

        def __init__(self) -> None:
            self.cross = bt.indicators.CrossOver(bt.indicators.SMA(period=self.p.fast),
                                                 bt.indicators.SMA(period=self.p.slow))

        def next(self) -> None:
            if self.cross > 0:
                self.order_target_percent(target=0.99)
            elif self.cross < 0:
                self.order_target_percent(target=0.0)

    df = frame.to_pandas().set_index("ts")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=df, timeframe=bt.TimeFrame.Minutes))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(100_000.0)
    cerebro.broker.setcommission(commission=0.001)
    began = time.perf_counter()
    cerebro.run()
    elapsed = time.perf_counter() - began
    return {"bars": len(df), "bars_per_s": round(len(df) / elapsed), "s": round(elapsed, 3)}


def bench_strict(frame: pl.DataFrame, bars: int, params: dict[str, int] | None = None) -> dict[str, Any]:
    from quantdesk.live import replay

    part = frame.head(bars)
    s = spec(REF, params or {"fast": 200, "slow": 500}, window_bars=1000)
    replay(s, part["ts"][0], part["ts"][300], frames={SYMBOL: part}, strict=True, risk={})  # warm-up
    result = replay(s, part["ts"][0], part["ts"][-1] + timedelta(minutes=1), frames={SYMBOL: part},
                    strict=True, risk={})
    return {"bars": result.bars, "window_bars": 1000, "orders": result.orders_sent,
            "bars_per_s": round(result.bars / result.elapsed_s), "s": round(result.elapsed_s, 3)}


class _Timed:
    """A broker wrapper that notes when an order is handed to it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.handed = inner, inner.name, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_order(self, intent: Any) -> Any:
        self.handed = time.perf_counter()
        return self.inner.create_order(intent)


class _Venue:
    """A ccxt-like client that serves candles from memory: the venue without its network time."""

    id = "bench"
    has = {"fetchOHLCV": True}
    timeframes = {"1m": "1m"}
    features: dict[str, Any] = {}

    def __init__(self, frames: dict[str, pl.DataFrame]) -> None:
        self.markets = {s: {"symbol": s, "type": "spot"} for s in frames}
        self.ts = {s: f["ts"].dt.epoch("ms").to_numpy() for s, f in frames.items()}
        self.rows = {s: [list(r) for r in f.with_columns(pl.col("ts").dt.epoch("ms")).iter_rows()]
                     for s, f in frames.items()}

    def load_markets(self) -> dict[str, Any]:
        return self.markets

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None) -> list:
        i = int(np.searchsorted(self.ts[symbol], since or 0))
        return self.rows[symbol][i:i + (limit or 500)]


def _hanging_channel() -> tuple[str, Any]:
    """A webhook that takes every message and never answers (until shut down): a dead channel."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            release.wait(30)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def close() -> None:
        release.set()
        server.shutdown()

    return f"json://127.0.0.1:{server.server_address[1]}/hook", close


def bench_latency(n_symbols: int = 20, bars: int = 30, on_outcome: Any = None,
                  hanging_channel: bool = False) -> dict[str, Any]:
    """Bar close -> order handed to the broker, per deployment, on the live path of `quantdesk run`.

    Each bar: the updater fetches the bar that just closed from the venue (an in-memory client
    here, so no network time), the window is served from memory, target, sizing, risk gate,
    intent + SENT committed with fsync, then the order is handed over. The new bar is written
    to the lake after that, as live; it is not in the latency but it is in the loop.
    `on_outcome(outcome)` runs after each decision, as `run_deployment`'s on_bar does (the live
    flow logs each bar to Prefect there); it is outside the measured span but in the loop.
    With `hanging_channel`, the outbox sender `run_deployment` starts runs beside the runner and
    delivers every fill to a webhook that never answers (issue 12: a dead channel must not slow
    an order).
    """
    from quantdesk.broker import GatedBroker, PaperBroker
    from quantdesk.core.clock import ManualClock
    from quantdesk.core.costs import MarketRules
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.live import Runner
    from quantdesk.live.market import LakeMarket, VenueCandles
    from quantdesk.risk import RiskConfig, RiskGate

    home = Path(tempfile.mkdtemp(prefix="quantdesk-bench-"))
    lake = Lake(home / "lake")
    symbols = [f"C{i:02d}/USDT" for i in range(n_symbols)]
    history = 300
    venue_frames = {sym: candles(history + bars, seed=i + 1) for i, sym in enumerate(symbols)}
    for sym, frame in venue_frames.items():
        lake.write(frame.head(history), exchange="bench", symbol=sym, timeframe="1m")
    venue = _Venue(venue_frames)
    first = candles(1)["ts"][0]
    start_ms = int(first.timestamp() * 1000) + history * 60_000
    clock = ManualClock(start_ms)
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}", clock=clock)
    runners = []
    # one paper account and one gate for the 20 deployments, as on a real venue
    broker = _Timed(PaperBroker(name="paper", clock=clock))
    gated = GatedBroker(broker, ledger, RiskGate(RiskConfig.from_dict({}), clock, ledger), venue="paper", clock=clock)
    for sym in symbols:
        s = spec(FLIP, {}, symbols=(sym,), rules={sym: MarketRules()}, lake_exchange="bench", window_bars=100)
        s = type(s)(**{**{f: getattr(s, f) for f in s.__dataclass_fields__}, "name": f"lat-{sym[:3]}"})
        # as `quantdesk run` builds it (live.service): the venue's candles through the market's updater
        updater = VenueCandles(venue, timeframe="1m", clock=clock, history_bars=4 * 100 + 10)
        market = LakeMarket(lake, exchange="bench", symbols=(sym,), timeframe="1m", updater=updater)
        runner = Runner(s, ledger=ledger, gated=gated, market=market, clock=clock, reconcile_every_bar=False)
        runner.start()
        runners.append((runner, broker))
    samples = []
    sender = closer = None
    if hanging_channel:
        from quantdesk.live.notifications import OutboxSender
        from quantdesk.notify import Notifier

        url, closer = _hanging_channel()
        sender = OutboxSender(ledger, Notifier([url]), clock, interval_s=0.05).start()
    for b in range(bars):
        bar_ms = start_ms + b * 60_000
        clock.set(bar_ms + 60_000)  # the bar just closed
        for runner, broker in runners:
            began = time.perf_counter()  # bar close seen by this deployment's runner
            outcome = runner.step(bar_ms)
            if not outcome.ok:
                raise RuntimeError(f"bench decision failed: {outcome.skipped}: {outcome.detail}")
            if outcome.orders and b > 0:  # the first bar warms caches up
                samples.append(1000 * (broker.handed - began))
            if on_outcome is not None:
                on_outcome(outcome)
    if sender is not None:
        closer()  # answer the held requests first, so the sender's last drain ends at once
        sender.stop()
    ledger.close()
    arr = np.array(samples)
    return {"symbols": n_symbols, "decisions": len(arr), "candles": "venue -> memory (lake written after)",
            "p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3),
            "max_ms": round(float(arr.max()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--backtrader-bars", type=int, default=100_000)
    parser.add_argument("--strict-bars", type=int, default=5_000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other work on the machine slows every figure below
    frame = candles(args.bars)
    fast = bench_fast(frame)
    backtrader = bench_backtrader(frame.head(args.backtrader_bars))
    # The workload an active strategy gives (sma 50/200 on a year of 1m: ~3,400 orders) beside the
    # quiet one above (~150 orders): replay cost is per order, so the quiet figure flatters.
    active = bench_fast(frame, {"fast": 50, "slow": 200})
    out = {
        "fast_replay": fast,
        "fast_replay_active": active,
        "backtrader": backtrader,
        "fast_vs_backtrader": round(fast["bars_per_s_loop"] / backtrader["bars_per_s"], 1),
        "fast_vs_backtrader_end_to_end": round(fast["bars_per_s_end_to_end"] / backtrader["bars_per_s"], 1),
        "strict_replay": bench_strict(frame, args.strict_bars),
        # the active strategy (sma 50/200) strict: target() on its 1,000-bar window every bar, and
        # its orders (about one every 160 bars) through gate, paper broker and scratch ledger
        "strict_replay_active": bench_strict(frame, args.strict_bars * 4, {"fast": 50, "slow": 200}),
        "live_latency": bench_latency(),
        "live_latency_with_a_hanging_channel": bench_latency(hanging_channel=True),
        "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "targets": {"fast_bars_per_s": 250_000, "fast_vs_backtrader": 20, "strict_bars_per_s": 2_000,
                    "live_p99_ms": 10},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
