"""Built-in strategies; importing this package registers them by name.

Each maps candles to a target exposure in [-1, 1] decided at the bar's close. Bars before
an indicator is defined hold 0 (flat). Stateful rules ("enter on X, hold until Y") are
written as event columns that are forward-filled at most `max_hold` bars, so there are no
Python loops, the output at bar t depends only on bars <= t (the lookahead check), and only
on the last `warmup` bars (what the live runner's trailing window holds; see `_common`).
"""

from quantdesk.strategies.builtin.named import NadarayaWatsonEnvelope, VegasTunnel
from quantdesk.strategies.builtin.portfolio import BuyAndHold, MomentumRotation
from quantdesk.strategies.builtin.reversion import RsiReversion
from quantdesk.strategies.builtin.trend import (
    BollingerBreakout,
    DonchianBreakout,
    EmaCross,
    SmaCross,
)

__all__ = [
    "BollingerBreakout",
    "BuyAndHold",
    "DonchianBreakout",
    "EmaCross",
    "MomentumRotation",
    "NadarayaWatsonEnvelope",
    "RsiReversion",
    "SmaCross",
    "VegasTunnel",
]
