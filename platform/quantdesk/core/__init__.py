"""Core: types, money, clock, errors, settings. Imported by everything; imports nothing of ours.

Settings load pydantic-settings (~0.3 s); they are imported on first use so that commands
which never read them (`quantdesk --help`) start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from quantdesk.core.clock import Clock, ManualClock, SystemClock, ensure_utc
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import (
    AuthenticationError,
    BacktestError,
    BrokerError,
    ConfigError,
    DataError,
    ExchangeUnavailableError,
    IdentityError,
    ImportFormatError,
    IngestError,
    InsufficientFundsError,
    LakeError,
    LedgerError,
    LookaheadError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    PromotionError,
    QuantdeskError,
    RateLimitedError,
    ReconciliationError,
    RiskError,
    SchemaError,
    StrategyError,
    VenueError,
)
from quantdesk.core.money import quantize_down, quantize_nearest, to_decimal, to_float
from quantdesk.core.orders import OrderIntent
from quantdesk.core.timeframes import parse_time, timeframe_ms
from quantdesk.core.types import OrderStatus, OrderType, Side, Stage, TradingState

__all__ = [
    "AuthenticationError",
    "BacktestError",
    "BrokerError",
    "Clock",
    "ConfigError",
    "CostModel",
    "DataError",
    "ExchangeUnavailableError",
    "IdentityError",
    "ImportFormatError",
    "IngestError",
    "InsufficientFundsError",
    "LakeError",
    "LedgerError",
    "LookaheadError",
    "ManualClock",
    "MarketRules",
    "OrderIntent",
    "OrderNotFoundError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "OrderStatus",
    "OrderType",
    "PromotionError",
    "QuantdeskError",
    "RateLimitedError",
    "ReconciliationError",
    "RiskError",
    "SchemaError",
    "Settings",
    "Side",
    "Stage",
    "StrategyError",
    "SystemClock",
    "TradingState",
    "VenueConfig",
    "VenueError",
    "config_path",
    "ensure_utc",
    "get_settings",
    "parse_time",
    "quantize_down",
    "quantize_nearest",
    "timeframe_ms",
    "to_decimal",
    "to_float",
]

_LAZY = {"Settings", "VenueConfig", "config_path", "get_settings"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'quantdesk.core' has no attribute {name!r}")
    value = getattr(importlib.import_module("quantdesk.core.settings"), name)
    globals()[name] = value
    return value
