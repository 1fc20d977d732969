"""Strategies the desk's documents name: the Vegas tunnel and the NWE (Nadaraya-Watson envelope).

Each target at bar t depends only on the last `warmup` bars (DESIGN.md contract 4 and the
live runner's trailing window); each `warmup` says why it is long enough.
"""

from __future__ import annotations

import polars as pl

from quantdesk.core.errors import StrategyError
from quantdesk.indicators import ema, nadaraya_watson_envelope
from quantdesk.strategies.base import Strategy, param
from quantdesk.strategies.builtin._common import hold, settle_bars

__all__ = ["NadarayaWatsonEnvelope", "VegasTunnel"]


class VegasTunnel(Strategy):
    """The Vegas tunnel: ride the trend while the trigger EMA is outside the EMA 144/169 tunnel.

    Long while EMA(trigger) is above the tunnel (the higher of EMA(tunnel_fast) and
    EMA(tunnel_slow)) and the whole tunnel is above the trend filter (the higher of
    EMA(filter_fast) and EMA(filter_slow)); with `short`, the mirror image below; flat otherwise.
    """

    name = "vegas_tunnel"
    trigger = param(12, min=2, max=200, doc="trigger EMA span, bars")
    tunnel_fast = param(144, min=3, max=2000, doc="tunnel's fast EMA span, bars")
    tunnel_slow = param(169, min=3, max=2000, doc="tunnel's slow EMA span, bars")
    filter_fast = param(576, min=4, max=5000, doc="trend filter's fast EMA span, bars")
    filter_slow = param(676, min=4, max=5000, doc="trend filter's slow EMA span, bars")
    short = param(False, doc="go short below a falling tunnel instead of flat")

    def validate(self) -> None:
        spans = (self.trigger, self.tunnel_fast, self.tunnel_slow, self.filter_fast, self.filter_slow)
        if not (self.trigger < self.tunnel_fast <= self.tunnel_slow < self.filter_fast <= self.filter_slow):
            raise StrategyError(
                "vegas_tunnel needs trigger < tunnel_fast <= tunnel_slow < filter_fast <= filter_slow, "
                f"got {spans}; the classic set is 12, 144, 169, 576, 676"
            )

    @property
    def warmup(self) -> int:
        # Every input is a TA-Lib EMA; the slowest must settle to the last bit inside the window
        # (see _common.settle_bars), about 33 spans: ~22,500 bars with the classic 676.
        return self.filter_slow + settle_bars((self.filter_slow - 1) / (self.filter_slow + 1))

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        trigger = ema(close, self.trigger)
        fast, slow = ema(close, self.tunnel_fast), ema(close, self.tunnel_slow)
        filter_fast, filter_slow = ema(close, self.filter_fast), ema(close, self.filter_slow)
        frame = pl.DataFrame({"trigger": trigger, "fast": fast, "slow": slow, "ffast": filter_fast,
                              "fslow": filter_slow}).select(
            "trigger",
            pl.max_horizontal("fast", "slow").alias("top"), pl.min_horizontal("fast", "slow").alias("bottom"),
            pl.max_horizontal("ffast", "fslow").alias("filter_top"),
            pl.min_horizontal("ffast", "fslow").alias("filter_bottom"),
            # max/min_horizontal skip nulls: keep "not yet defined" as null
            pl.any_horizontal(pl.col("fast", "slow", "ffast", "fslow").is_null()).alias("undefined"),
        )
        long_ = (pl.col("trigger") > pl.col("top")) & (pl.col("bottom") > pl.col("filter_top"))
        short_ = (pl.col("trigger") < pl.col("bottom")) & (pl.col("top") < pl.col("filter_bottom"))
        below = -1.0 if self.short else 0.0
        # A null anywhere (an EMA not yet defined) makes the conditions null: flat.
        return frame.select(
            pl.when(pl.col("undefined")).then(0.0).when(long_).then(1.0).when(short_).then(below)
            .otherwise(0.0).fill_null(0.0).alias("target")
        )["target"]


class NadarayaWatsonEnvelope(Strategy):
    """NWE mean reversion on the causal Nadaraya-Watson envelope (no repainting).

    Long when the close falls below the lower band, exit when it recovers to the estimate;
    with `short`, short above the upper band and cover at the estimate. A position with no
    fresh signal for `max_hold` bars is closed. The band is the endpoint estimator (only the
    bar and the bars before it), not the popular two-sided drawing that repaints: see
    research/strategies/nwe_repainting.py and research/04_nwe_repainting.ipynb.
    """

    name = "nwe"
    bandwidth = param(8.0, min=0.5, max=100.0, doc="Gaussian kernel bandwidth h, bars")
    window = param(200, min=2, max=2000, doc="bars the estimate and its mean absolute error look back")
    mult = param(3.0, min=0.1, max=10.0, doc="band width in mean absolute errors")
    short = param(False, doc="also fade breaks above the upper band (short)")
    max_hold = param(
        200, min=1, max=5000,
        doc="bars a position is held without a fresh signal before it is closed; bounds the memory",
    )

    @property
    def warmup(self) -> int:
        # The band at t needs 2*window - 1 bars (estimate, then the mean of its errors); exits
        # depend on the held state (max_hold back) and the target holds events (max_hold again).
        # The kernel sum and the error mean are exact per window.
        return 2 * self.window - 1 + 2 * self.max_hold + 1

    def target(self, candles: pl.DataFrame) -> pl.Series:
        close = candles["close"]
        upper, middle, lower = nadaraya_watson_envelope(close, self.bandwidth, self.window, self.mult)
        above = -1.0 if self.short else 0.0
        entries = pl.select(
            pl.when(close < lower).then(1.0).when(close > upper).then(above).otherwise(None).alias("e")
        )["e"]
        state = hold(entries, self.max_hold)
        exits = ((state > 0) & (close >= middle)) | ((state < 0) & (close <= middle))
        events = pl.select(
            pl.when(close < lower).then(1.0).when(close > upper).then(above)
            .when(exits).then(0.0).otherwise(None).alias("e")
        )["e"]
        return hold(events, self.max_hold)
