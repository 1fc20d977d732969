"""Helpers the built-ins share: bounded holds and recursive-indicator warm-ups.

The live runner (and strict replay) recompute `target()` on a trailing window of `warmup`
bars each bar, so a built-in's target at bar t must be a function of the last `warmup` bars
only, bit for bit: a target is a comparison, and a comparison of two floats that differ in
the last bit can flip. These helpers make that hold by construction where it can (bounded
holds, the window-exact indicators of `quantdesk.indicators`) and by a documented bound where the indicator is recursive.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["hold", "settle_bars"]

# Bits a recursive indicator's seed error must decay by before TA-Lib's recursion on the
# trailing window produces the same float64 bits as on the full history: 53 bits of double
# precision, plus 43 bits for how far off the window's seed may start (a seed 2**20 times
# the converged value still vanishes) and for the last round-off difference to die out
# (measured on ../shared/data and synthetic walks: bit-identical after 18-26 EMA spans and
# 36-53 RSI periods, the most for a 20%-a-bar walk; this bound gives ~33 spans / ~67 periods).
_SETTLE_BITS = 96


def hold(events: pl.Series, limit: int | None = None) -> pl.Series:
    """Carry the last event (1, -1, 0) forward, at most `limit` bars; flat before the first event.

    A limit bounds the strategy's memory: the target at t depends only on the events of bars
    t - limit .. t, so a trailing window that computes those events exactly agrees.
    """
    return events.cast(pl.Float64).forward_fill(limit=limit).fill_null(0.0).alias("target")


def settle_bars(decay_per_bar: float) -> int:
    """Return the bars after which a recursion `y = decay * y + (1 - decay) * x` forgets its seed.

    After this many bars the seed's weight is below 2**-96, so two runs of the recursion that
    started at different bars (the backtest at bar 0, the live window at t - warmup + 1) hold
    the same float64 value, and every comparison made on it agrees. This holds unless the
    input is constant for about this many bars across the window's start (then the rounding
    can park both runs a few ulps apart until the price moves).
    """
    if not 0.0 < decay_per_bar < 1.0:
        return 0
    return math.ceil(_SETTLE_BITS * math.log(2.0) / -math.log(decay_per_bar))
