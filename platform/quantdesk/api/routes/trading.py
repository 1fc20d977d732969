"""Act on trading, through what the CLI uses: halt and resume (`Ledger.set_trading_state`), a manual
order and a cancel (the venue's `GatedBroker`: risk gate, ledger, venue), each idempotent on its key."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse

from quantdesk.api.auth import Caller, Token, allow, context, permit
from quantdesk.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, error_json
from quantdesk.api.idempotency import (
    IdempotencyKey,
    RequiredIdempotencyKey,
    request_digest,
    run_once,
)
from quantdesk.api.models import OrderIn, OrderOut, OrderOutcomeOut, StateIn, StateOut
from quantdesk.core.types import TradingState
from quantdesk.identity.policy import Action, resume_action

__all__ = ["router"]

router = APIRouter(tags=["trading"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
_DENIED = {409: {"model": ErrorBody, "description": "Denied by the risk gate (code `order_denied`, `risk_code`)"},
           502: {"model": ErrorBody, "description": "The venue could not be reached or reconciled"}}


def _set_state(ctx: Any, request: Request, token: Any, body: StateIn | None, state: TradingState,
               key: str | None) -> JSONResponse:
    from quantdesk.promotion import find_deployment
    from quantdesk.risk import GLOBAL_SCOPE, deployment_scope

    body = body or StateIn()
    if body.deployment is not None and find_deployment(ctx.ledger, body.deployment) is None:
        raise ApiError(404, "not_found", f"no deployment {body.deployment!r}: list them at /v1/deployments")
    scope = GLOBAL_SCOPE if body.deployment is None else deployment_scope(body.deployment)
    # resuming what a loss limit stopped needs an admin: the policy decides which action this is
    action = Action.HALT if state is TradingState.HALTED else resume_action(ctx.ledger, scope)
    caller = permit(ctx, request, token, action)
    verb = "halted" if state is TradingState.HALTED else "resumed"

    def act() -> tuple[int, dict[str, Any]]:
        before = ctx.ledger.trading_state(scope)
        record = ctx.ledger.set_trading_state(scope, state, body.reason or f"{verb} through the API", caller.user)
        ctx.drain.kick()
        return 200, StateOut(scope=record.scope, previous=before.state.value, state=record.state.value,
                             reason=record.reason, actor=record.actor,
                             updated_at=record.updated_at).model_dump(mode="json")

    return run_once(ctx, caller, key, request_digest("POST", request.url.path, body.model_dump(mode="json")), act)


@router.post("/halt", response_model=StateOut, summary="Halt trading (everywhere, or one deployment)")
def halt(request: Request, token: Token, ctx: Ctx, body: Annotated[StateIn | None, Body()] = None,
         idempotency_key: IdempotencyKey = None) -> Any:
    """Only cancels pass the risk gate until a resume. Traders and admins, scope trade."""
    return _set_state(ctx, request, token, body, TradingState.HALTED, idempotency_key)


@router.post("/resume", response_model=StateOut, summary="Resume trading (everywhere, or one deployment)")
def resume(request: Request, token: Token, ctx: Ctx, body: Annotated[StateIn | None, Body()] = None,
           idempotency_key: IdempotencyKey = None) -> Any:
    """Traders and admins; after an automatic loss-limit or drawdown halt, admins with scope admin."""
    return _set_state(ctx, request, token, body, TradingState.ACTIVE, idempotency_key)


def _outcome(outcome: Any) -> dict[str, Any]:
    return OrderOutcomeOut(
        client_order_id=outcome.client_order_id, approved=outcome.approved, code=str(outcome.code),
        detail=outcome.detail, status=None if outcome.status is None else str(outcome.status), error=outcome.error,
        order=None if outcome.order is None else OrderOut.model_validate(outcome.order),
    ).model_dump(mode="json")


@router.post("/orders", status_code=201, response_model=OrderOutcomeOut, responses=_DENIED,
             summary="Place a manual order through the risk gate and the ledger")
def place_order(request: Request, body: OrderIn, caller: Annotated[Caller, allow(Action.ORDER)], ctx: Ctx,
                idempotency_key: RequiredIdempotencyKey) -> Any:
    """The answer names the client order id. The same Idempotency-Key never places a second order."""
    from quantdesk.broker import derive_client_order_id
    from quantdesk.core.orders import OrderIntent
    from quantdesk.core.types import OrderType, Side

    if (body.type == "limit") != (body.price is not None):
        raise ApiError(422, "invalid_request", "a limit order needs a price and a market order takes none")
    if Decimal(body.qty) <= 0 or (body.price is not None and Decimal(body.price) <= 0):
        raise ApiError(422, "invalid_request", "qty and price must be above zero")
    # the key makes the intent: a retry derives the same client order id and finds the first attempt
    cid = derive_client_order_id("manual", f"api\x1f{caller.user}\x1f{idempotency_key}")

    def act() -> tuple[int, dict[str, Any]]:
        with ctx.brokers.use(body.venue, caller.user) as gated:
            outcome = gated.submit(OrderIntent(
                client_order_id=cid, deployment="manual", venue=body.venue, symbol=body.symbol,
                side=Side(body.side), type=OrderType(body.type), qty=Decimal(body.qty),
                price=None if body.price is None else Decimal(body.price), ts=gated.clock.now()))
        ctx.drain.kick()
        if not outcome.approved:
            return 409, error_json("order_denied", f"denied by the risk gate: {outcome.code}: {outcome.detail}",
                                   client_order_id=cid, risk_code=str(outcome.code))
        return 201, _outcome(outcome)

    digest = request_digest("POST", request.url.path, body.model_dump(mode="json"))
    return run_once(ctx, caller, idempotency_key, digest, act, client_order_id=cid)


@router.post("/orders/{client_order_id}/cancel", response_model=OrderOutcomeOut, responses=_DENIED,
             summary="Cancel an order through the gate (allowed while trading is halted)")
def cancel_order(request: Request, caller: Annotated[Caller, allow(Action.CANCEL)], ctx: Ctx,
                 client_order_id: Annotated[str, Path(min_length=1, max_length=64)],
                 idempotency_key: IdempotencyKey = None) -> Any:
    row = ctx.ledger.order(client_order_id)
    if row is None:
        raise ApiError(404, "not_found", f"no order {client_order_id!r} in the ledger: list them at /v1/orders")

    def act() -> tuple[int, dict[str, Any]]:
        with ctx.brokers.use(row.venue, caller.user) as gated:
            outcome = gated.cancel(client_order_id)
        ctx.drain.kick()
        if not outcome.approved:
            return 409, error_json("cancel_denied", f"denied by the risk gate: {outcome.code}: {outcome.detail}",
                                   client_order_id=client_order_id, risk_code=str(outcome.code))
        return 200, _outcome(outcome)

    return run_once(ctx, caller, idempotency_key, request_digest("POST", request.url.path, None), act)
