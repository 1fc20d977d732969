"""`GET /v1/events`: server-sent events of fills, denials, state changes and promotion decisions.

Each event's `id` is the feed position after it; reconnect with `Last-Event-ID` (or `?after=`)
to resume without a gap or a repeat. The stream re-checks its token at every wake-up (each
ledger commit, at least every 15 s), so a revoked token or a disabled user ends it at once
(with a last `error` event).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from quantdesk.api.auth import Caller, allow, context, recheck
from quantdesk.api.errors import ERROR_RESPONSES, ApiError, error_json
from quantdesk.api.events import EVENT_TYPES, FeedPosition, read_events
from quantdesk.identity.policy import Action

__all__ = ["router"]

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)
HEARTBEAT_S = 15.0


def _position(ctx: Any, last_event_id: str | None, after: str | None) -> FeedPosition:
    given = last_event_id or after
    if given is None:
        return FeedPosition.now(ctx.ledger)
    position = FeedPosition.parse(given)
    if position is None:
        raise ApiError(400, "bad_event_id", f"event id {given[:40]!r} is not one this feed gave: resume with the id of "
                       "the last event you received, or leave it out to start from now")
    return position


def _types(types: str | None) -> frozenset[str]:
    if types is None:
        return frozenset(EVENT_TYPES)
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown or not wanted:
        raise ApiError(400, "bad_request", f"unknown event types {unknown or [types]}: use any of "
                       f"{','.join(EVENT_TYPES)}")
    return wanted


def _feed(ctx: Annotated[Any, Depends(context)],
          last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=80)] = None,
          after: Annotated[str | None, Query(max_length=80, description="Resume after this event id")] = None,
          types: Annotated[str | None, Query(max_length=80, description="Comma-separated: fill,denial,state,promotion")]
          = None) -> tuple[FeedPosition, frozenset[str]]:
    return _position(ctx, last_event_id, after), _types(types)


@router.get("/events", response_class=EventSourceResponse,
            summary="Stream fills, denials, trading-state changes and promotion decisions (server-sent events)")
async def events(request: Request, caller: Annotated[Caller, allow(Action.VIEW)],
                 ctx: Annotated[Any, Depends(context)],
                 feed: Annotated[tuple[FeedPosition, frozenset[str]], Depends(_feed)]) -> AsyncIterator[ServerSentEvent]:
    position, wanted = feed
    yield ServerSentEvent(comment=f"events for {caller.user} from {position}", retry=2000)
    while not await request.is_disconnected():
        ticket = ctx.hub.ticket()  # before reading: a commit during the read still wakes us
        try:
            await anyio.to_thread.run_sync(recheck, ctx, request, Action.VIEW)
        except ApiError as e:  # revoked, expired, or its user disabled: the stream ends here
            yield ServerSentEvent(event="error", data=error_json(e.code, e.message))
            return
        batch, position, more = await anyio.to_thread.run_sync(read_events, ctx.ledger, position, wanted)
        for event_position, kind, data in batch:
            yield ServerSentEvent(event=kind, id=str(event_position), data=data)
        if not more:
            await ctx.hub.wait(ticket, HEARTBEAT_S)
