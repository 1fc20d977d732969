"""Money-flow indicators (TA-Lib): Money Flow Index, On-Balance Volume, Chaikin Accumulation/Distribution.

They weigh price moves by volume, the "fund flows" a market page shows beside sentiment.
MFI is a bounded oscillator over a window (0..100, like RSI on typical price × volume). OBV
and A/D are running sums from the first bar given: their level depends on where the history
starts, so compare their changes (`obv(...).diff(n)`) in a strategy, not their levels, or the
live runner's trailing window will disagree with the backtest (DESIGN contract 4).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import talib

from quantdesk.core.errors import StrategyError
from quantdesk.indicators.cache import memoized
from quantdesk.indicators.talib_wrappers import _check_period, _series, _values

__all__ = ["accumulation_distribution", "mfi", "obv"]


def _same_length(name: str, *arrays: Any) -> None:
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise StrategyError(f"{name} needs inputs of one length, got {', '.join(str(len(a)) for a in arrays)}")


@memoized
def mfi(high: Any, low: Any, close: Any, volume: Any, period: int = 14) -> pl.Series:
    """Return the Money Flow Index over `period` bars (TA-Lib MFI), 0..100; null during the warm-up."""
    h, name = _values(high)
    lo, _ = _values(low)
    c, _ = _values(close)
    v, _ = _values(volume)
    _same_length("mfi", h, lo, c, v)
    return _series(talib.MFI(h, lo, c, v, timeperiod=_check_period("mfi", period, 2)), name or "mfi")


@memoized
def obv(close: Any, volume: Any) -> pl.Series:
    """Return On-Balance Volume (TA-Lib OBV): volume added on up closes, subtracted on down closes."""
    c, name = _values(close)
    v, _ = _values(volume)
    _same_length("obv", c, v)
    return _series(talib.OBV(c, v), name or "obv")


@memoized
def accumulation_distribution(high: Any, low: Any, close: Any, volume: Any) -> pl.Series:
    """Return Chaikin's Accumulation/Distribution line (TA-Lib AD): volume weighted by the close's place in the range."""
    h, name = _values(high)
    lo, _ = _values(low)
    c, _ = _values(close)
    v, _ = _values(volume)
    _same_length("accumulation_distribution", h, lo, c, v)
    return _series(talib.AD(h, lo, c, v), name or "ad")
