"""Domain enums shared by every layer."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OrderStatus", "OrderType", "Side", "Stage", "TradingState"]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    """An order's life: PENDING (intent stored, not sent) -> SENT -> OPEN/PARTIALLY_FILLED -> final."""

    PENDING = "pending"
    SENT = "sent"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Stage(StrEnum):
    RESEARCH = "research"
    PAPER = "paper"
    LIVE = "live"
    RETIRED = "retired"
