"""Promote through `quantdesk.promotion` (what `quantdesk promote`/`approve` and the pages call):
paper at once when every gate passes, live on request and a second person's approval (four eyes:
the approving token's user must differ from the requester's; `approve` refuses otherwise)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from quantdesk.api.auth import Caller, Token, allow, context, permit
from quantdesk.api.errors import ERROR_RESPONSES, ErrorBody, error_json
from quantdesk.api.idempotency import IdempotencyKey, request_digest, run_once
from quantdesk.api.models import DecisionIn, PromoteIn, PromotionOut
from quantdesk.identity.policy import Action

__all__ = ["router"]

router = APIRouter(tags=["promotion"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
DeploymentName = Annotated[str, Path(min_length=1, max_length=128)]
_REFUSED = {409: {"model": ErrorBody, "description": "Refused: a gate failed, nothing pending, or the requester "
                                                     "tried to approve their own request"}}


def _figure(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def promotion_view(request: Any) -> dict[str, Any]:
    """Return a promotion request as the API shows it."""
    return PromotionOut(
        id=request.id, deployment=request.deployment,
        from_stage=None if request.from_stage is None else str(request.from_stage), to_stage=str(request.to_stage),
        status=str(request.status), requested_by=request.requested_by, requested_at=request.requested_at,
        decided_by=request.decided_by, decided_at=request.decided_at, reason=request.reason, run_id=request.run_id,
        code_hash=request.code_hash,
        gates=[{"name": g.name, "passed": bool(g.passed), "figure": _figure(g.figure),
                "threshold": _figure(g.threshold), "detail": g.detail} for g in request.gates],
    ).model_dump(mode="json")


@router.post("/promotions", status_code=201, response_model=PromotionOut, responses=_REFUSED,
             summary="Promote a backtested strategy to paper, or request live")
def promote(request: Request, body: PromoteIn, token: Token, ctx: Ctx, idempotency_key: IdempotencyKey = None) -> Any:
    """Every gate is checked on the stored evidence; live waits for another person's approval."""
    from quantdesk.parity import drift_report
    from quantdesk.promotion import PromotionRefused
    from quantdesk.promotion import promote as promote_strategy

    caller = permit(ctx, request, token, Action.PROMOTE_LIVE if body.to == "live" else Action.PROMOTE_PAPER)

    def act() -> tuple[int, dict[str, Any]]:
        try:
            made = promote_strategy(
                ctx.ledger, body.strategy, run_id=body.run_id, to=body.to, actor=caller.user, name=body.name,
                venue=body.venue, account=body.account, capital=body.capital,
                walkforward_run_id=body.walkforward_run_id, risk_profile=body.risk_profile, drift=drift_report, via="api")
        except PromotionRefused as e:
            ctx.drain.kick()
            return 409, error_json("promotion_refused", str(e), promotion=promotion_view(e.request))
        ctx.drain.kick()
        return 201, promotion_view(made)

    return run_once(ctx, caller, idempotency_key, request_digest("POST", request.url.path, body.model_dump(mode="json")),
                    act)


def _decide(ctx: Any, request: Request, caller: Caller, name: str, body: DecisionIn | None, approving: bool,
            key: str | None) -> Any:
    from quantdesk.promotion import approve, reject

    body = body or DecisionIn()

    def act() -> tuple[int, dict[str, Any]]:
        if approving:
            decided = approve(ctx.ledger, name, actor=caller.user, reason=body.reason or "approved through the API",
                              via="api")
        else:
            decided = reject(ctx.ledger, name, actor=caller.user, reason=body.reason, via="api")
        ctx.drain.kick()
        return 200, promotion_view(decided)

    return run_once(ctx, caller, key, request_digest("POST", request.url.path, body.model_dump(mode="json")), act)


@router.post("/deployments/{name}/approve", response_model=PromotionOut, responses=_REFUSED,
             summary="Approve a pending live promotion (a trader or admin other than the requester)")
def approve_live(request: Request, name: DeploymentName, caller: Annotated[Caller, allow(Action.DECIDE_LIVE)],
                 ctx: Ctx, body: Annotated[DecisionIn | None, Body()] = None,
                 idempotency_key: IdempotencyKey = None) -> Any:
    return _decide(ctx, request, caller, name, body, True, idempotency_key)


@router.post("/deployments/{name}/reject", response_model=PromotionOut, responses=_REFUSED,
             summary="Reject a pending live promotion (say why), or withdraw your own request")
def reject_live(request: Request, name: DeploymentName, caller: Annotated[Caller, allow(Action.PROMOTE_LIVE)],
                ctx: Ctx, body: Annotated[DecisionIn | None, Body()] = None,
                idempotency_key: IdempotencyKey = None) -> Any:
    # the requester may withdraw their own request; anyone else must be allowed to decide (checked by `reject`)
    return _decide(ctx, request, caller, name, body, False, idempotency_key)
