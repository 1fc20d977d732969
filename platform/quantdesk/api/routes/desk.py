"""Read the book: deployments, orders, fills, positions (per venue and aggregated), trading states."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from quantdesk.api.auth import Caller, allow, context
from quantdesk.api.errors import ERROR_RESPONSES, ApiError
from quantdesk.api.models import (
    AggregatePositionOut,
    DeploymentOut,
    FillOut,
    OrderOut,
    Page,
    PositionOut,
    TradingStateOut,
)
from quantdesk.api.paging import Cursor, Limit, encode_cursor, int_cursor, page_by_key
from quantdesk.identity.policy import Action
from quantdesk.ledger.pages import PageQuery, fills_page, orders_page

__all__ = ["Filter", "Since", "Until", "router", "utc"]

router = APIRouter(tags=["desk"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
Viewer = Annotated[Caller, allow(Action.VIEW)]


def _text(description: str) -> Any:
    return Query(min_length=1, max_length=128, description=description)


Filter = Annotated[str | None, _text("Only this value")]
Since = Annotated[datetime | None, Query(description="From this time on (ISO 8601; UTC when no offset)")]
Until = Annotated[datetime | None, Query(description="Before this time (ISO 8601; UTC when no offset)")]
OrderStatus = Literal["pending", "sent", "open", "partially_filled", "filled", "canceled", "rejected", "expired"]


def utc(ts: datetime | None) -> datetime | None:
    """Return `ts` in UTC (a time without offset is read as UTC)."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise ApiError(400, "bad_request", f"since {since.isoformat()} is not before until {until.isoformat()}: "
                       "swap them")
    return since, until


@router.get("/deployments", response_model=Page[DeploymentOut], summary="Deployments: stage, state, PnL, last bar")
def deployments(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None,
                stage: Annotated[Literal["research", "paper", "live", "retired"] | None, Query()] = None,
                venue: Filter = None) -> Any:
    from quantdesk.promotion import list_deployments, list_promotions

    found = [d for d in list_deployments(ctx.ledger, stage=stage) if venue is None or d.venue == venue]
    page, after = page_by_key("deployments", found, lambda d: d.name, limit, cursor)
    pending = {p.deployment: p for p in list_promotions(ctx.ledger, status="pending_approval")} if page else {}
    return {"items": [_deployment(d, pending.get(d.name)) for d in page], "next_cursor": after}


def _deployment(d: Any, pending: Any) -> dict[str, Any]:
    view = DeploymentOut.model_validate(d).model_dump()
    view["pending_promotion"] = None if pending is None else {
        "id": pending.id, "to_stage": pending.to_stage.value, "requested_by": pending.requested_by,
        "requested_at": pending.requested_at}
    return view


@router.get("/deployments/{name}", response_model=DeploymentOut, summary="One deployment")
def deployment(_: Viewer, ctx: Ctx, name: Annotated[str, Path(min_length=1, max_length=128)]) -> Any:
    from quantdesk.promotion import find_deployment, list_promotions

    found = find_deployment(ctx.ledger, name)
    if found is None:
        raise ApiError(404, "not_found", f"no deployment {name!r}: list them at /v1/deployments")
    pending = list_promotions(ctx.ledger, deployment=name, status="pending_approval")
    return _deployment(found, pending[-1] if pending else None)


@router.get("/orders", response_model=Page[OrderOut], summary="Orders, newest first")
def orders(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, deployment: Filter = None,
           venue: Filter = None, symbol: Filter = None, status: Annotated[OrderStatus | None, Query()] = None,
           since: Since = None, until: Until = None) -> Any:
    start, end = _window(since, until)
    page = orders_page(ctx.ledger, PageQuery(limit=limit, before=int_cursor("orders", cursor), since=start, until=end),
                       deployment=deployment, venue=venue, symbol=symbol, status=status)
    return {"items": page.items, "next_cursor": None if page.next_key is None else encode_cursor("orders", page.next_key)}


@router.get("/orders/{client_order_id}", response_model=OrderOut, summary="One order by client order id")
def order(_: Viewer, ctx: Ctx, client_order_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Any:
    found = ctx.ledger.order(client_order_id)
    if found is None:
        raise ApiError(404, "not_found", f"no order {client_order_id!r} in the ledger: list them at /v1/orders")
    return found


@router.get("/fills", response_model=Page[FillOut], summary="Fills, newest first")
def fills(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, deployment: Filter = None,
          venue: Filter = None, symbol: Filter = None, since: Since = None, until: Until = None) -> Any:
    start, end = _window(since, until)
    page = fills_page(ctx.ledger, PageQuery(limit=limit, before=int_cursor("fills", cursor), since=start, until=end),
                      deployment=deployment, venue=venue, symbol=symbol)
    return {"items": page.items, "next_cursor": None if page.next_key is None else encode_cursor("fills", page.next_key)}


def _positions(ctx: Any, venue: str | None, symbol: str | None) -> list[Any]:
    return [p for p in ctx.ledger.positions(venue=venue) if symbol is None or p.symbol == symbol]


@router.get("/positions", response_model=Page[PositionOut], summary="Positions per venue and account, from fills")
def positions(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, venue: Filter = None,
              symbol: Filter = None) -> Any:
    found = _positions(ctx, venue, symbol)
    page, after = page_by_key("positions", found, lambda p: f"{p.venue}\x1f{p.account}\x1f{p.symbol}", limit, cursor)
    return {"items": page, "next_cursor": after}


@router.get("/positions/aggregate", response_model=Page[AggregatePositionOut],
            summary="Positions per symbol, summed over venues and accounts")
def aggregate_positions(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, venue: Filter = None,
                        symbol: Filter = None) -> Any:
    totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"qty": Decimal(0), "cost": Decimal(0),
                                                              "fees": Decimal(0), "fill_count": 0, "venues": set()})
    for p in _positions(ctx, venue, symbol):
        row = totals[p.symbol]
        row["qty"] += p.qty
        row["cost"] += p.cost
        row["fees"] += p.fees
        row["fill_count"] += p.fill_count
        row["venues"].add(p.venue)
    rows = [{"symbol": s, **{k: v for k, v in t.items() if k != "venues"}, "venues": sorted(t["venues"])}
            for s, t in totals.items()]
    page, after = page_by_key("aggregate", rows, lambda r: r["symbol"], limit, cursor)
    return {"items": page, "next_cursor": after}


@router.get("/trading-states", response_model=list[TradingStateOut],
            summary="Trading state of every scope ever set (global, deployment:NAME)")
def trading_states(_: Viewer, ctx: Ctx) -> Any:
    states = ctx.ledger.trading_states()
    if not any(s.scope == "global" for s in states):
        states = [ctx.ledger.trading_state("global"), *states]
    return states
