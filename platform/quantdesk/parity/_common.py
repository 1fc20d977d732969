"""What parity and drift need from a deployment, and the candles of its window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError, LakeError, PromotionError
from quantdesk.core.timeframes import parse_time, timeframe_ms
from quantdesk.lake import Lake, closed_candles
from quantdesk.live.spec import RunSpec
from quantdesk.promotion import Deployment

__all__ = ["align", "as_run_spec", "floor_time", "load_window", "to_utc", "window_bars"]


def as_run_spec(deployment: Deployment | RunSpec) -> RunSpec:
    """Return the runner's spec of a resolved `deployment` (a Deployment or a RunSpec)."""
    if isinstance(deployment, RunSpec):
        return deployment
    if isinstance(deployment, Deployment):
        return RunSpec.from_deployment(deployment)
    # Parity sits above promotion and never looks names up itself (DESIGN.md, dependency direction).
    raise PromotionError(
        f"parity and drift take a resolved deployment, not {deployment!r}: "
        "pass quantdesk.promotion.get_deployment(ledger, NAME) or a quantdesk.live.RunSpec"
    )


def window_bars(spec: RunSpec) -> int:
    """Return the trailing history the runner hands `target()` per bar (its `window_bars` rule)."""
    if spec.window_bars:
        return int(spec.window_bars)
    from quantdesk.backtest.engine import resolve_strategy

    instance, _ = resolve_strategy(spec.strategy, dict(spec.params))
    return max(50, 2 * int(instance.warmup) + 10)


def to_utc(value: datetime | str | int | None, what: str) -> datetime:
    """Parse a window bound; raise DataError naming `what` when it is missing."""
    parsed = parse_time(value)
    if parsed is None:
        raise DataError(f"the {what} of the window is missing; give it as an ISO date like 2024-01-01")
    return parsed


def floor_time(value: datetime, timeframe: str) -> datetime:
    """Return the open time of the bar of `timeframe` that contains `value`."""
    ms = timeframe_ms(timeframe)
    epoch = int(value.timestamp() * 1000)
    return parse_time(epoch - epoch % ms)  # type: ignore[return-value]


def align(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Keep only the bar times every symbol has (the backtest and the replay need one clock)."""
    common: set[Any] | None = None
    for frame in frames.values():
        ts = set(frame["ts"].to_list())
        common = ts if common is None else common & ts
    keep = pl.Series("ts", sorted(common or ()), dtype=next(iter(frames.values()))["ts"].dtype)
    return {s: f.filter(pl.col("ts").is_in(keep.implode())).sort("ts") for s, f in frames.items()}


def load_window(
    lake: Lake | None, view: RunSpec, start: datetime, end: datetime, *, lookback_bars: int = 0
) -> dict[str, pl.DataFrame]:
    """Return `{symbol: candles}` in [start - lookback_bars bars, end), aligned on common bar times."""
    if lake is None:
        lake = Lake()
    first = start if lookback_bars <= 0 else parse_time(
        int(start.timestamp() * 1000) - lookback_bars * timeframe_ms(view.timeframe)
    )
    frames: dict[str, pl.DataFrame] = {}
    for symbol in view.symbols:
        frame = None
        for exchange in dict.fromkeys([view.lake_exchange, view.venue, None]):
            try:
                frame = closed_candles(lake.candles(symbol, view.timeframe, first, end, exchange=exchange))
                break
            except LakeError:
                if exchange is None:
                    raise
        assert frame is not None
        frames[symbol] = frame.select("ts", "open", "high", "low", "close", "volume")
    frames = align(frames)
    bars = len(next(iter(frames.values())))
    if bars < 2:
        raise DataError(
            f"only {bars} bar(s) of {view.timeframe} candles for {', '.join(view.symbols)} in "
            f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}); ingest them or widen the window"
        )
    return frames
