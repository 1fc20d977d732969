"""The live runner and replay (issue 5): one code path from a backtested strategy to live orders.

`Runner` trades a deployment bar by bar through the gated broker; `replay` drives the same
runner over lake history on a simulated clock (fast or strict) and returns what it did, so
`quantdesk.parity` can compare it with the backtest; `size_order` is the backtest's sizing.
"""

from quantdesk.live.replay import ReplayResult, replay
from quantdesk.live.runner import BarOutcome, Runner, SkipCode, bar_client_order_id
from quantdesk.live.schedule import BarScheduler, ScaledClock, clock_from_env, last_closed_bar_ms
from quantdesk.live.sizing import Account, SizedOrder, size_order, to_intent_qty
from quantdesk.live.spec import RunSpec
from quantdesk.live.venue_clock import VenueClock

__all__ = [
    "Account",
    "BarOutcome",
    "BarScheduler",
    "ReplayResult",
    "RunSpec",
    "Runner",
    "ScaledClock",
    "SizedOrder",
    "SkipCode",
    "VenueClock",
    "bar_client_order_id",
    "clock_from_env",
    "last_closed_bar_ms",
    "replay",
    "size_order",
    "to_intent_qty",
]
