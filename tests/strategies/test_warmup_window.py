"""`warmup` bounds every built-in's memory: the target on a trailing `warmup`-bar window is the backtest's.

The live runner and strict replay call `target()` on the last bars only, so for every bar t
`target(full)[t]` must equal `target(full[t - warmup + 1 : t + 1])[-1]` exactly (a target is
a decision: "close enough" is a different trade). Every registered built-in is checked, so a
new one is covered without editing this file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.core import StrategyError
from quantdesk.lake import generate_candles
from quantdesk.strategies import Strategy, load_strategy, registry

load_strategy("sma_cross")  # importing a built-in registers them all
BUILTINS = sorted(registry())
Frames = dict[str, pl.DataFrame]

# Real candles with different troubles: the golden pair, thin trading (flat bars), long runs
# of zero-volume filler bars (a constant close), and gaps.
REAL_SINGLE = ["ETH_BTC-5m.feather", "NXT_BTC-5m.feather", "XRP_ETH-1m.json", "UNITTEST_BTC-1m.feather"]
REAL_MULTI = ["ETH_BTC-5m.feather", "LTC_BTC-5m.feather", "XLM_BTC-5m.feather"]  # gap-free, one clock
SAMPLES = 40


def _load(shared_data: Path, name: str) -> pl.DataFrame:
    path = shared_data / "freqtrade-testdata" / name
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    if path.suffix == ".feather":
        frame = pl.read_ipc(path).rename({"date": "ts"})
    else:
        rows = json.loads(path.read_text())
        frame = pl.DataFrame(rows, schema=["ts", "open", "high", "low", "close", "volume"], orient="row")
    return frame.select("open", "high", "low", "close", "volume").cast(pl.Float64)


def _param_sets(cls: type[Strategy], count: int, *, seed: int, cap: int = 60) -> list[dict[str, Any]]:
    """Return the defaults, short memories and `count` random valid parameter sets (integers <= `cap`).

    Short memories (every integer at its minimum; `max_hold` at its minimum) leave the least
    room for a recursive indicator to settle inside the window. The cap keeps `warmup` well
    inside a few thousand bars, so many bars can be checked.
    """
    rng = np.random.default_rng(seed)
    specs = cls.params()
    fixed: list[dict[str, Any]] = [{}, {n: int(p.min) for n, p in specs.items() if p.kind is int and p.min}]
    if "max_hold" in specs:
        fixed.append({"max_hold": int(specs["max_hold"].min or 1)})
    out: list[dict[str, Any]] = []
    for values in fixed:
        try:
            cls(**values)
        except StrategyError:
            continue
        if values not in out:
            out.append(values)
    need = len(out) + count
    for _ in range(50 * count):
        if len(out) >= need:
            break
        values: dict[str, Any] = {}
        for name, spec in cls.params().items():
            if spec.choices:
                values[name] = spec.choices[int(rng.integers(len(spec.choices)))]
            elif spec.kind is bool:
                values[name] = bool(rng.integers(2))
            elif spec.kind is int:
                lo = int(spec.min if spec.min is not None else 1)
                values[name] = int(rng.integers(lo, max(lo, min(int(spec.max or cap), cap)) + 1))
            elif spec.kind is float and spec.min is not None and spec.max is not None:
                values[name] = float(rng.uniform(spec.min, spec.max))
        try:
            cls(**values)
        except StrategyError:
            continue
        out.append(values)
    return out


def _targets(strategy: Strategy, frames: Frames) -> dict[str, np.ndarray]:
    if strategy.multi_asset:
        out = strategy.target(frames)
    else:
        (symbol, frame), = frames.items()
        out = {symbol: strategy.target(frame)}
    return {s: out[s].cast(pl.Float64).fill_null(0.0).to_numpy() for s in frames}


def _window_mismatches(strategy: Strategy, frames: Frames, bars: list[int] | None = None, *,
                       seed: int = 0, count: int = SAMPLES) -> list[str]:
    """Return a line per bar t where the trailing-window target differs from the full one.

    `bars` default to `_bars()`: random ones and those around the full target's changes.
    """
    warmup = int(strategy.warmup)
    full = _targets(strategy, frames)
    bars = _bars(full, warmup, seed, count) if bars is None else bars
    bad = []
    for t in bars:
        window = {s: f.slice(t - warmup + 1, warmup) for s, f in frames.items()}
        assert all(len(f) == warmup for f in window.values())
        last = {s: v[-1] for s, v in _targets(strategy, window).items()}
        bad += [f"bar {t} {s}: full {full[s][t]} window {last[s]}" for s in frames if last[s] != full[s][t]]
    return bad


def _bars(full: dict[str, np.ndarray], warmup: int, seed: int, count: int = SAMPLES) -> list[int]:
    """Return bars t with a full window behind them: random ones, and those around decisions.

    A window that disagrees does so where the decision is borderline (a cross, a threshold),
    which is where the full target changes; random bars catch the rest. The first and the
    last bar with a full window are always in.
    """
    n = len(next(iter(full.values())))
    first = warmup - 1
    rng = np.random.default_rng(seed)
    changes = np.unique(np.concatenate([np.flatnonzero(np.diff(v)) + 1 for v in full.values()]))
    near = np.unique(np.concatenate([changes - 1, changes, changes + 1]))
    near = near[(near >= first) & (near < n)]
    if len(near) > 10 * count:
        near = rng.choice(near, 10 * count, replace=False)
    return sorted({first, n - 1, *near.tolist(), *rng.integers(first, n, size=count).tolist()})


def _check(name: str, frames: Frames, *, seed: int, param_sets: int = 2) -> int:
    """Assert window parity for `name` with its defaults and random parameters; return sets checked."""
    cls = load_strategy(name)
    n = len(next(iter(frames.values())))
    checked = 0
    for i, params in enumerate(_param_sets(cls, param_sets, seed=seed)):
        strategy = cls(**params)
        if strategy.warmup > n - SAMPLES:
            continue  # not enough history to sample bars behind a full window
        bad = _window_mismatches(strategy, frames, seed=seed + i)
        assert not bad, f"{strategy!r} (warmup {strategy.warmup}) needs more than its warmup:\n" + "\n".join(bad[:10])
        checked += 1
    return checked


def _frames_for(cls: type[Strategy], single: pl.DataFrame, multi: Frames) -> Frames:
    return multi if cls.multi_asset else {"asset": single}


# Known disagreements, each an issue to fix rather than a tolerance (strict: fixing one fails here).
# sma_cross used to be here: polars rolling_mean keeps a running sum, so where SMA(fast) ==
# SMA(slow) exactly (e.g. NXT/BTC 5m bar 4760, both 2.8645e-05) the round-off broke the tie one
# way on the full history and the other way on the window. It now uses indicators.sma_exact.
KNOWN: dict[tuple[str, str], str] = {}
REAL_CASES = [
    pytest.param(n, d, marks=pytest.mark.xfail(strict=True, reason=KNOWN[(n, d)])) if (n, d) in KNOWN else (n, d)
    for n in BUILTINS
    for d in (["+".join(REAL_MULTI)] if load_strategy(n).multi_asset else REAL_SINGLE)
]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "dataset"), REAL_CASES)
def test_target_on_the_warmup_window_equals_the_backtest_on_real_data(
    name: str, dataset: str, shared_data: Path
) -> None:
    files = dataset.split("+")
    frames = {f.split("-")[0]: _load(shared_data, f) for f in files}
    assert _check(name, frames, seed=len(dataset)) >= 1


@pytest.mark.parametrize("name", BUILTINS)
def test_target_on_the_warmup_window_equals_the_backtest_on_synthetic_data(name: str) -> None:
    symbols = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    raw = {s: generate_candles(s, minutes=4_000, seed=5, index=i) for i, s in enumerate(symbols)}
    # The sample has outage gaps: keep the bar times every symbol has (one clock, as the runner does).
    common = set.intersection(*(set(f["ts"].to_list()) for f in raw.values()))
    multi = {s: f.filter(pl.col("ts").is_in(sorted(common))).sort("ts") for s, f in raw.items()}
    cls = load_strategy(name)
    assert _check(name, _frames_for(cls, multi[symbols[0]], multi), seed=1) >= 1


@st.composite
def walks(draw: st.DrawFn) -> pl.DataFrame:
    """Random walks from calm to wild, with runs of a constant close (filler bars) mixed in."""
    n = draw(st.integers(300, 3_000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = rng.normal(0.0, draw(st.sampled_from([1e-4, 0.01, 0.08])), n)
    steps[rng.random(n) < draw(st.sampled_from([0.0, 0.3, 0.7]))] = 0.0
    close = 100 * np.exp(np.cumsum(steps))
    return pl.DataFrame({"open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
                         "volume": np.ones(n)})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([n for n in BUILTINS if not load_strategy(n).multi_asset]),
       candles=walks(),
       seed=st.integers(0, 1_000))
def test_window_parity_holds_on_random_walks_with_flat_runs(name: str, candles: pl.DataFrame, seed: int) -> None:
    # Flat runs make exact ties (SMA(fast) == SMA(slow)): sma_cross must keep them ties.
    cls = load_strategy(name)
    strategy = cls(**_param_sets(cls, 1, seed=seed, cap=20)[-1])
    n = len(candles)
    if strategy.warmup > n - 5:
        return  # the walk is shorter than the warm-up; other examples cover it
    bad = _window_mismatches(strategy, {"asset": candles}, seed=seed, count=10)
    assert not bad, f"{strategy!r} (warmup {strategy.warmup}):\n" + "\n".join(bad[:10])


def test_recursive_indicators_get_a_warmup_that_grows_with_their_span() -> None:
    # The seed of TA-Lib's EMA/RSI must decay below double precision before the window's value
    # is the backtest's bit for bit: far more than the old "4 spans" / "5 periods".
    assert load_strategy("ema_cross")(fast=12, slow=26).warmup > 30 * 26
    assert load_strategy("ema_cross")(fast=12, slow=52).warmup > load_strategy("ema_cross")(fast=12, slow=26).warmup
    rsi = load_strategy("rsi_reversion")
    assert rsi(period=14, max_hold=10).warmup > 60 * 14
    assert rsi(period=14, max_hold=300).warmup == rsi(period=14, max_hold=10).warmup + 290


def _quiet_after_a_signal(name: str, n: int) -> np.ndarray:
    """Return closes with one entry signal, then a long stretch with neither entry nor exit."""
    rng = np.random.default_rng(3)
    if name == "rsi_reversion":
        # a crash to an oversold RSI, then a zig-zag decline that keeps RSI in (30, 50)
        zigzag = np.where(np.arange(n - 30) % 2 == 0, 0.010, -0.015)
        return np.concatenate([np.linspace(100, 80, 30), 80 * np.exp(np.cumsum(zigzag))])
    quiet = np.full(40, 100.0) + rng.normal(0, 0.01, 40)
    if name == "bollinger_breakout":
        # a jump through the upper band, then a steady rise between the middle and the upper band
        return np.concatenate([quiet, 110 + np.arange(n - 40) * 1e-3])
    # a jump through the channel, then a flat close: no new high, no new low
    return np.concatenate([quiet, [110.0], np.full(n - 41, 109.9)])


@pytest.mark.parametrize("name", ["rsi_reversion", "bollinger_breakout", "donchian_breakout"])
def test_max_hold_closes_a_position_without_a_fresh_signal(name: str) -> None:
    n, max_hold = 400, 25
    close = _quiet_after_a_signal(name, n)
    frame = pl.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": np.ones(n)})
    bounded = load_strategy(name)(max_hold=max_hold).target(frame).to_numpy()
    unbounded = load_strategy(name)(max_hold=5_000).target(frame).to_numpy()
    held = np.flatnonzero(unbounded)
    # Without a bound the position is held to the end; with one it is closed a little after
    # the last signal, and never reopened (there is no new signal).
    assert unbounded[-1] == 1.0 and len(held) > 300
    assert bounded[-1] == 0.0 and 0 < len(np.flatnonzero(bounded)) < 100
    assert np.flatnonzero(bounded).max() < held[0] + 3 * max_hold
