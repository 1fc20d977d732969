"""Who am I, notification history, the audit log (admins), and a liveness probe."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from quantdesk.api.auth import Caller, allow, context
from quantdesk.api.errors import ERROR_RESPONSES
from quantdesk.api.models import AuditOut, MeOut, NotificationOut, Page
from quantdesk.api.paging import Cursor, Limit, encode_cursor, int_cursor
from quantdesk.api.routes.desk import Since, Until, _window
from quantdesk.identity.policy import Action
from quantdesk.ledger.pages import PageQuery, audit_page, outbox_page

__all__ = ["router"]

router = APIRouter(tags=["desk"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
Viewer = Annotated[Caller, allow(Action.VIEW)]
Auditor = Annotated[Caller, allow(Action.VIEW_AUDIT)]


def _short(description: str) -> Any:
    return Query(min_length=1, max_length=128, description=description)


@router.get("/me", response_model=MeOut, summary="The user and scope this token acts as")
def me(caller: Viewer) -> Any:
    return {"user": caller.user, "role": caller.role, "scope": caller.scope.value, "token": caller.prefix}


@router.get("/notifications", response_model=Page[NotificationOut],
            summary="Every notification with its delivery status, newest first")
def notifications(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None,
                  event_type: Annotated[str | None, _short("Only this event type, e.g. halt")] = None,
                  status: Annotated[str | None, _short("pending, sent, digested, failed or skipped")] = None,
                  since: Since = None, until: Until = None) -> Any:
    start, end = _window(since, until)
    page = outbox_page(ctx.ledger, PageQuery(limit=limit, before=int_cursor("notifications", cursor), since=start,
                                             until=end), event_type=event_type, status=status)
    return {"items": page.items,
            "next_cursor": None if page.next_key is None else encode_cursor("notifications", page.next_key)}


@router.get("/audit", response_model=Page[AuditOut], summary="The hash-chained audit log, newest first (admins)")
def audit(_: Auditor, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None,
          actor: Annotated[str | None, _short("Only entries by this actor")] = None,
          action: Annotated[str | None, _short("Only this action, e.g. trading_state.set")] = None,
          since: Since = None, until: Until = None) -> Any:
    start, end = _window(since, until)
    page = audit_page(ctx.ledger, PageQuery(limit=limit, before=int_cursor("audit", cursor), since=start, until=end),
                      actor=actor, action=action)
    return {"items": page.items, "next_cursor": None if page.next_key is None else encode_cursor("audit", page.next_key)}


@router.get("/health", summary="Liveness: the server answers and the ledger is reachable (no token needed)",
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
def health(ctx: Ctx) -> dict[str, str]:
    ctx.ledger.trading_state("global")
    return {"status": "ok"}
