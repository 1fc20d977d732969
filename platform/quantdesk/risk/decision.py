"""Risk decisions are values, not exceptions (DESIGN.md, contract 6)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from quantdesk.core.types import TradingState

__all__ = ["DenialCode", "RiskDecision", "StateChange"]


class DenialCode(StrEnum):
    """Stable codes of risk decisions; stored in the ledger, so never rename one."""

    APPROVED = "APPROVED"
    # the intent itself
    INVALID_QTY = "INVALID_QTY"
    INVALID_PRICE = "INVALID_PRICE"
    # trading state
    TRADING_HALTED = "TRADING_HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    REDUCE_ONLY_WOULD_INCREASE = "REDUCE_ONLY_WOULD_INCREASE"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    # order validity against the market
    NO_MARKET_PRICE = "NO_MARKET_PRICE"
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    QTY_NOT_ON_LOT_STEP = "QTY_NOT_ON_LOT_STEP"
    QTY_BELOW_MIN = "QTY_BELOW_MIN"
    QTY_ABOVE_MAX = "QTY_ABOVE_MAX"
    NOTIONAL_BELOW_MIN = "NOTIONAL_BELOW_MIN"
    PRICE_OUTSIDE_BAND = "PRICE_OUTSIDE_BAND"
    # size and exposure
    QTY_EXCEEDS_MAX_PER_ORDER = "QTY_EXCEEDS_MAX_PER_ORDER"
    NOTIONAL_EXCEEDS_MAX_PER_ORDER = "NOTIONAL_EXCEEDS_MAX_PER_ORDER"
    POSITION_EXCEEDS_MAX = "POSITION_EXCEEDS_MAX"
    GROSS_EXPOSURE_EXCEEDS_MAX = "GROSS_EXPOSURE_EXCEEDS_MAX"
    # perpetual futures
    LEVERAGE_EXCEEDS_MAX = "LEVERAGE_EXCEEDS_MAX"
    LIQUIDATION_TOO_CLOSE = "LIQUIDATION_TOO_CLOSE"
    # the book's risk (issue 25)
    VAR_LIMIT_EXCEEDED = "VAR_LIMIT_EXCEEDED"
    # flow
    TOO_MANY_ACTIVE_ORDERS = "TOO_MANY_ACTIVE_ORDERS"
    ORDER_RATE_EXCEEDED = "ORDER_RATE_EXCEEDED"
    DAILY_ORDER_LIMIT_EXCEEDED = "DAILY_ORDER_LIMIT_EXCEEDED"
    CANCEL_RATE_EXCEEDED = "CANCEL_RATE_EXCEEDED"
    DAILY_CANCEL_LIMIT_EXCEEDED = "DAILY_CANCEL_LIMIT_EXCEEDED"
    FILL_RATE_EXCEEDED = "FILL_RATE_EXCEEDED"
    DAILY_FILL_LIMIT_EXCEEDED = "DAILY_FILL_LIMIT_EXCEEDED"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskDecision:
    """The gate's answer to one intent or cancel: approved, a stable code, and a human detail."""

    approved: bool
    code: DenialCode
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChange:
    """The trading state of a scope moved (by hand or by a loss limit); record a risk event and notify.

    `scope` is `global` or `deployment:NAME` (loss limits move the deployment's scope).

    `code` is DAILY_LOSS_LIMIT or MAX_DRAWDOWN for automatic moves, TRADING_HALTED or
    APPROVED (resume) for manual ones.
    """

    scope: str
    previous: TradingState
    state: TradingState
    code: DenialCode
    reason: str
    ts_ms: int


APPROVED = RiskDecision(approved=True, code=DenialCode.APPROVED, detail="")
