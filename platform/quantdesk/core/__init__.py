"""Core: types, money, clock, errors, settings. Imported by everything; imports nothing of ours."""

from quantdesk.core.clock import Clock, ManualClock, SystemClock, ensure_utc
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import *  # noqa: F403
from quantdesk.core.errors import __all__ as _errors_all
from quantdesk.core.money import quantize_down, quantize_nearest, to_decimal, to_float
from quantdesk.core.orders import OrderIntent
from quantdesk.core.settings import Settings, VenueConfig, config_path, get_settings
from quantdesk.core.timeframes import parse_time, timeframe_ms
from quantdesk.core.types import OrderStatus, OrderType, Side, Stage, TradingState

__all__ = sorted(
    [
        "Clock",
        "CostModel",
        "ManualClock",
        "MarketRules",
        "OrderIntent",
        "OrderStatus",
        "OrderType",
        "Settings",
        "Side",
        "Stage",
        "SystemClock",
        "TradingState",
        "VenueConfig",
        "config_path",
        "ensure_utc",
        "get_settings",
        "parse_time",
        "quantize_down",
        "quantize_nearest",
        "timeframe_ms",
        "to_decimal",
        "to_float",
        *_errors_all,
    ]
)
