"""The API's JSON shapes (pydantic at the edge): money as exact decimal strings, times ISO 8601 UTC.

Response models mirror the ledger's records field by field, so a record converts with
`Model.model_validate(record)`; request models forbid unknown fields and bound every string.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

__all__ = [
    "DECIMAL_PATTERN", "AggregatePositionOut", "AuditOut", "CoverageOut", "DecimalText", "DecisionIn",
    "DeploymentOut", "FillOut", "MeOut", "Money", "NotificationOut", "OrderIn", "OrderOut", "OrderOutcomeOut",
    "Page", "PositionOut", "PromoteIn", "PromotionOut", "RiskEventOut", "RiskLimitsOut", "RunOut", "StateIn",
    "StateOut", "TradingStateOut",
]

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_POSITIVE = r"^[0-9]{1,20}(\.[0-9]{1,18})?$"


def _plain(value: Decimal) -> str:
    return format(value, "f")  # never an exponent: 1E+2 reads 100


# Money out: an exact decimal string ("0.01000000" as the ledger holds it), never a float.
Money = Annotated[Decimal, PlainSerializer(_plain, return_type=str),
                  WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.01"]})]
# Money in: a positive decimal written as a string.
DecimalText = Annotated[str, Field(pattern=_POSITIVE, max_length=40, examples=["0.01"])]
Name = Annotated[str, Field(min_length=1, max_length=128)]
T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, and the cursor of the next page (null: this was the last)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to read the next page")


class OrderOut(_Out):
    client_order_id: str
    venue: str
    account: str
    symbol: str
    side: str
    order_type: str
    qty: Money
    price: Money | None
    status: str
    venue_order_id: str | None
    filled_qty: Money
    avg_price: Money | None
    external: bool
    deployment: str | None
    created_at: datetime
    updated_at: datetime


class FillOut(_Out):
    id: int
    venue: str
    account: str
    trade_id: str
    client_order_id: str | None
    venue_order_id: str | None
    symbol: str
    side: str
    qty: Money
    price: Money
    fee: Money
    fee_currency: str | None
    ts: datetime
    recorded_at: datetime


class PositionOut(_Out):
    venue: str
    account: str
    symbol: str
    qty: Money
    cost: Money = Field(description="Sum of signed qty x price: quote spent (+) or received (-)")
    fees: Money
    fill_count: int


class AggregatePositionOut(BaseModel):
    symbol: str
    qty: Money
    cost: Money
    fees: Money
    fill_count: int
    venues: list[str]


class PendingOut(BaseModel):
    id: int
    to_stage: str
    requested_by: str
    requested_at: datetime


class DeploymentOut(_Out):
    name: str
    strategy_name: str
    stage: str
    state: str
    state_detail: str
    pnl: Money | None
    first_bar_ts: datetime | None
    last_bar_ts: datetime | None
    symbols: list[str]
    timeframe: str
    venue: str
    account: str
    capital: Money
    code_hash: str
    run_id: str | None
    approved_by: str | None
    created_by: str
    created_at: datetime
    stage_since: datetime | None
    updated_at: datetime | None
    pending_promotion: PendingOut | None = None


class TradingStateOut(_Out):
    scope: str
    state: str
    reason: str
    actor: str
    updated_at: datetime | None


class RiskEventOut(_Out):
    id: int
    ts: datetime
    approved: bool
    code: str
    detail: str
    deployment: str | None
    venue: str | None
    symbol: str | None


class RiskLimitsOut(BaseModel):
    limits: dict[str, Any] = Field(description="The [risk.*] sections as validated (decimals as strings)")


class RunOut(BaseModel):
    run_id: str
    kind: str | None
    created_at: str | None
    strategy: str | None
    params: dict[str, Any]
    symbols: list[str]
    timeframe: str | None
    metrics: dict[str, float | int | None]


class CoverageOut(BaseModel):
    exchange: str
    symbol: str
    timeframe: str
    first: datetime | None
    last: datetime | None
    rows: int
    gaps: int
    missing_bars: int
    quarantined: int
    synthetic: bool


class NotificationOut(_Out):
    id: int
    created_at: datetime
    event_type: str
    level: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    payload: dict[str, Any]


class AuditOut(_Out):
    seq: int
    ts: datetime
    actor: str
    action: str
    payload: dict[str, Any]
    hash: str


class MeOut(BaseModel):
    user: str
    role: str
    scope: str
    token: str = Field(description="The token's prefix")


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)
    deployment: Name | None = Field(default=None, description="Only this deployment (default: all trading)")


class StateOut(BaseModel):
    scope: str
    previous: str
    state: str
    reason: str
    actor: str
    updated_at: datetime | None


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue: Annotated[str, Field(min_length=1, max_length=64)]
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")]
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"] = "market"
    qty: DecimalText
    price: DecimalText | None = None


class OrderOutcomeOut(BaseModel):
    client_order_id: str
    approved: bool
    code: str
    detail: str
    status: str | None
    error: str | None
    order: OrderOut | None


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Annotated[str, Field(min_length=1, max_length=300)]
    run_id: Annotated[str, Field(min_length=1, max_length=200)]
    to: Literal["paper", "live"]
    name: Name | None = None
    venue: Name | None = None
    account: Name | None = None
    capital: DecimalText | None = None
    walkforward_run_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    risk_profile: Name | None = None


class GateOut(BaseModel):
    name: str
    passed: bool
    figure: Any
    threshold: Any
    detail: str


class PromotionOut(BaseModel):
    id: int
    deployment: str
    from_stage: str | None
    to_stage: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    run_id: str | None
    code_hash: str | None
    gates: list[GateOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)
