"""Read the risk side: configured limits, recent denials (and automatic state changes), the book's VaR."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from quantdesk.api.auth import Caller, allow, context
from quantdesk.api.errors import ERROR_RESPONSES
from quantdesk.api.models import Page, RiskEventOut, RiskLimitsOut
from quantdesk.api.paging import Cursor, Limit, encode_cursor, int_cursor
from quantdesk.api.routes.desk import Filter, Since, Until, _window
from quantdesk.core.jsonable import to_jsonable
from quantdesk.identity.policy import Action
from quantdesk.ledger.pages import PageQuery, risk_events_page

__all__ = ["router"]

router = APIRouter(prefix="/risk", tags=["risk"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
Viewer = Annotated[Caller, allow(Action.VIEW)]


@router.get("/limits", response_model=RiskLimitsOut, summary="The risk limits as configured ([risk.*])")
def limits(_: Viewer) -> Any:
    from quantdesk.risk import RiskConfig

    return {"limits": to_jsonable(RiskConfig.from_settings().as_dict())}


@router.get("/denials", response_model=Page[RiskEventOut],
            summary="Orders and cancels the gate denied, and its automatic state changes, newest first")
def denials(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, deployment: Filter = None,
            venue: Filter = None, symbol: Filter = None,
            code: Annotated[str | None, Query(min_length=1, max_length=64, description="A denial code")] = None,
            since: Since = None, until: Until = None) -> Any:
    start, end = _window(since, until)
    page = risk_events_page(ctx.ledger, PageQuery(limit=limit, before=int_cursor("denials", cursor), since=start,
                                                  until=end),
                            approved=False, deployment=deployment, venue=venue, symbol=symbol, code=code)
    return {"items": page.items,
            "next_cursor": None if page.next_key is None else encode_cursor("denials", page.next_key)}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@router.get("/var", response_model=dict[str, Any],
            summary="VaR and ES of the book (the desk, or one deployment), as `quantdesk risk var --json`")
def var(_: Viewer, ctx: Ctx, deployment: Filter = None,
        method: Annotated[Literal["historical", "gaussian", "cornish-fisher", "filtered-historical", "monte-carlo"]
                          | None, Query()] = None,
        confidence: Annotated[float | None, Query(gt=0.5, lt=1, description="e.g. 0.99")] = None,
        horizon: Annotated[Literal["1d", "10d"], Query()] = "1d",
        window_days: Annotated[int | None, Query(ge=30, le=3650)] = None,
        by: Annotated[Literal["deployment", "venue", "asset", "position"] | None, Query()] = None) -> Any:
    """Statistical estimates in the quote currency (numbers, not ledger money); defaults from [risk.var]."""
    from quantdesk.book import book_var_report
    from quantdesk.risk import RiskConfig

    defaults = RiskConfig.from_settings().var_settings
    report = book_var_report(ctx.ledger, deployment=deployment, method=method or defaults.method,
                             confidence=confidence or defaults.confidence, horizon=horizon,
                             window_days=window_days or defaults.window_days, by=by)
    return _finite(to_jsonable(report.to_json()))
