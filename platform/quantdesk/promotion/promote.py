"""Promote a strategy research -> paper -> live on stored evidence; approve live promotions.

`promote(..., to="paper")` checks the gates and, when all pass, creates or updates the
deployment at the paper stage, pinned to the run's code hash. `promote(..., to="live")`
checks the same gates plus paper days and drift, and records a request pending approval:
`approve` by a different user with an approving role moves the deployment to live.
Every promotion, approval and refusal is stored and appended to the audit log with its actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantdesk.core.clock import ensure_utc
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import PromotionError, QuantdeskError
from quantdesk.core.types import Stage
from quantdesk.identity.policy import Action, authorize
from quantdesk.ledger import Ledger
from quantdesk.ledger._types import canonical_json, jsonable
from quantdesk.ledger.registry import insert_promotion, update_promotion
from quantdesk.promotion.deployment import (
    Deployment,
    DeploymentState,
    deployment_values,
    find_deployment,
    validate_name,
)
from quantdesk.promotion.evidence import (
    DriftMeasure,
    Evidence,
    collect_evidence,
    evaluate_gates,
    with_drift,
)
from quantdesk.promotion.gates import GateResult, PromotionGates, format_failures
from quantdesk.promotion.requests import (
    PromotionRefused,
    PromotionRequest,
    PromotionStatus,
    list_promotions,
    to_request,
)

__all__ = ["DriftFunction", "approve", "promote", "reject"]

# (ledger, paper deployment) -> its drift measure. Promotion sits below parity (DESIGN.md,
# dependency direction), so the caller hands in `quantdesk.parity.drift_report`.
DriftFunction = Callable[[Ledger, Deployment], DriftMeasure]


def _same_strategy(given: str, evidence: Evidence) -> bool:
    if given in (evidence.strategy, evidence.strategy_ref):
        return True
    if ":" in given and ":" in evidence.strategy_ref:
        path, cls = given.rsplit(":", 1)
        ref_path, ref_cls = evidence.strategy_ref.rsplit(":", 1)
        return cls == ref_cls and Path(path).expanduser().resolve() == Path(ref_path).resolve()
    return False


def _deployment_for(evidence: Evidence, existing: Deployment | None, *, name: str, stage: Stage, actor: str,
                    venue: str | None, account: str | None, capital: Decimal | float | str | None,
                    risk_profile: str | None, risk_overrides: Mapping[str, Any] | None, now: Any) -> Deployment:
    symbols = tuple(evidence.snapshot.get("symbols") or ())
    rules = MarketRules(**evidence.rules) if evidence.rules else MarketRules()
    if capital is not None:
        money = Decimal(str(capital))
    elif existing is not None:
        money = existing.capital
    else:
        money = Decimal(str(evidence.initial_cash))
    if not money > 0:
        raise PromotionError(f"capital must be a positive amount, got {money}")
    return Deployment(
        name=name, strategy=evidence.strategy_ref, strategy_name=evidence.strategy, params=dict(evidence.params),
        symbols=symbols, timeframe=str(evidence.snapshot.get("timeframe") or ""),
        exchange=evidence.snapshot.get("exchange"),
        venue=venue or (existing.venue if existing else None) or evidence.snapshot.get("exchange") or "paper",
        account=account or (existing.account if existing else "default"),
        risk_profile=risk_profile if risk_profile is not None else (existing.risk_profile if existing else None),
        risk_overrides=dict(risk_overrides) if risk_overrides is not None else (existing.risk_overrides if existing else {}),
        capital=money, stage=stage, state=DeploymentState.IDLE, code_hash=evidence.code_hash,
        run_id=evidence.run_id, walkforward_run_id=evidence.walkforward_run_id,
        cost=CostModel(**evidence.cost) if evidence.cost else CostModel(), rules={s: rules for s in symbols},
        allow_short=evidence.allow_short, rebalance=evidence.rebalance, market=evidence.market,
        leverage=evidence.leverage,
        created_by=existing.created_by if existing else actor, approved_by=None,
        created_at=existing.created_at if existing else now, updated_at=now, stage_since=now,
    )


def promote(
    ledger: Ledger,
    strategy: str,
    *,
    run_id: str,
    to: Stage | str,
    actor: str,
    name: str | None = None,
    venue: str | None = None,
    account: str | None = None,
    capital: Decimal | float | str | None = None,
    walkforward_run_id: str | None = None,
    risk_profile: str | None = None,
    risk_overrides: Mapping[str, Any] | None = None,
    gates: PromotionGates | None = None,
    drift: DriftFunction | None = None,
    via: str = "cli",
) -> PromotionRequest:
    """Promote `strategy` on the evidence of backtest `run_id` to `to` (paper or live) as `actor`.

    Return the stored request: APPROVED for paper (the deployment is now at paper),
    PENDING for live (it waits for `approve` by someone else). Raise PromotionRefused
    listing EVERY failing gate with its figure and threshold (the refusal is stored and
    audited), PromotionError for a bad request, PermissionDeniedError (audited by the policy, with
    the door `via` it came through) for an identity that may not promote to `to`.
    """
    stage = Stage(to)
    if stage not in (Stage.PAPER, Stage.LIVE):
        raise PromotionError(f"promote to paper or live, not {stage.value} (retire with `quantdesk deployment retire`)")
    authorize(ledger, actor, Action.PROMOTE_LIVE if stage is Stage.LIVE else Action.PROMOTE_PAPER, via=via)
    base_payload = {"strategy": strategy, "run_id": run_id, "to_stage": stage.value}
    evidence = collect_evidence(run_id, walkforward_run_id=walkforward_run_id)
    if not _same_strategy(strategy, evidence):
        raise PromotionError(
            f"run {run_id} is a backtest of {evidence.strategy_ref!r}, not {strategy!r}: promote the strategy the run tested"
        )
    dep_name = validate_name(name or evidence.strategy)
    existing = find_deployment(ledger, dep_name)
    if existing is not None and existing.strategy_name != evidence.strategy:
        raise PromotionError(
            f"deployment {dep_name!r} runs strategy {existing.strategy_name!r}, not {evidence.strategy!r}: "
            "choose another --name"
        )
    if stage is Stage.PAPER and existing is not None and existing.state is DeploymentState.RUNNING:
        raise PromotionError(f"deployment {dep_name!r} is running: stop it before promoting it again")
    if stage is Stage.PAPER and existing is not None and existing.stage is Stage.LIVE:
        raise PromotionError(
            f"deployment {dep_name!r} is live; a paper promotion would demote it: retire it or choose another --name"
        )
    gates = gates or PromotionGates.from_settings(stage)
    extra: list[GateResult] = []
    if stage is Stage.LIVE:
        if drift is None:
            raise PromotionError(
                "a live promotion is judged on the paper deployment's drift: pass "
                "drift=quantdesk.parity.drift_report (the CLI does this for you)"
            )
        evidence, extra = _live_evidence(ledger, evidence, existing, dep_name, drift)
    results = evaluate_gates(evidence, gates, stage) + extra
    now = ledger._now()
    proposed = _deployment_for(
        evidence, existing, name=dep_name, stage=stage, actor=actor, venue=venue, account=account,
        capital=capital, risk_profile=risk_profile, risk_overrides=risk_overrides, now=now,
    )
    failures = [g for g in results if not g.passed]
    values = {
        "deployment": dep_name, "from_stage": None if existing is None else existing.stage.value,
        "to_stage": stage.value, "requested_by": actor, "requested_at": now, "code_hash": evidence.code_hash,
        "run_id": run_id, "evidence": canonical_json({"evidence": evidence, "deployment": proposed.to_json()}),
        "gates": canonical_json([asdict(g) for g in results]),
    }
    payload = {**base_payload, "deployment": dep_name, "code_hash": evidence.code_hash,
               "walkforward_run_id": evidence.walkforward_run_id}
    if failures:
        reason = format_failures(results)
        row = insert_promotion(
            ledger, {**values, "status": PromotionStatus.REFUSED.value, "decided_by": actor, "decided_at": now,
                     "reason": reason},
            audit=(actor, "promotion.refuse", {**payload, "failing_gates": jsonable(failures)}),
        )
        request = to_request(row)
        raise PromotionRefused(
            f"promotion of {dep_name} to {stage.value} refused, {len(failures)} gate(s) failed: {reason}", request
        )
    if stage is Stage.PAPER:
        row = insert_promotion(
            ledger, {**values, "status": PromotionStatus.APPROVED.value, "decided_by": actor, "decided_at": now,
                     "reason": "paper promotions need no second approval"},
            deployment=(dep_name, deployment_values(proposed), existing is None),
            audit=(actor, "promotion.paper", payload),
        )
        return to_request(row)
    for old in list_promotions(ledger, deployment=dep_name, status=PromotionStatus.PENDING):
        update_promotion(ledger, old.id, {"status": PromotionStatus.SUPERSEDED.value, "decided_at": now,
                                          "reason": "a newer live promotion request replaced it"})
    row = insert_promotion(ledger, {**values, "status": PromotionStatus.PENDING.value},
                           audit=(actor, "promotion.request", payload))
    return to_request(row)


def _live_evidence(ledger: Ledger, evidence: Evidence, existing: Deployment | None, name: str,
                   drift: DriftFunction) -> tuple[Evidence, list[GateResult]]:
    if existing is None or existing.stage is not Stage.PAPER:
        where = "does not exist" if existing is None else f"is at stage {existing.stage.value}"
        detail = f"deployment {name!r} {where}: promote it --to paper and paper-trade it first"
        return with_drift(evidence, None, detail), []
    pinned = GateResult(
        name="paper_code_hash", passed=existing.code_hash == evidence.code_hash,
        figure=existing.code_hash[:12], threshold=f"== run's {evidence.code_hash[:12]}",
        detail="" if existing.code_hash == evidence.code_hash
        else "the paper deployment ran other code: promote this run to paper and paper-trade it first",
    )
    try:
        report = drift(ledger, existing)
    except QuantdeskError as e:
        return with_drift(evidence, None, f"no drift report for {name}: {e}"), [pinned]
    return with_drift(evidence, report), [pinned]


def approve(ledger: Ledger, deployment: str, *, actor: str, reason: str = "", via: str = "cli") -> PromotionRequest:
    """Approve the pending live promotion of `deployment` as `actor`; the deployment becomes live.

    Refused (and audited) when `actor` requested it, when their role may not approve, or
    when the strategy source no longer hashes to the request's code hash.
    """
    pending = list_promotions(ledger, deployment=deployment, status=PromotionStatus.PENDING)
    if not pending:
        raise PromotionError(
            f"no live promotion of {deployment!r} is waiting for approval: request one with "
            f"`quantdesk promote STRATEGY --run RUN_ID --to live --name {deployment}`"
        )
    request = pending[-1]
    payload = {"deployment": deployment, "promotion_id": request.id, "requested_by": request.requested_by,
               "run_id": request.run_id, "code_hash": request.code_hash}
    authorize(ledger, actor, Action.DECIDE_LIVE, via=via)  # the policy audits its own refusals
    try:
        if actor == request.requested_by:
            raise PromotionError(
                f"{actor} requested the live promotion of {deployment!r} and cannot approve it: "
                "a second person with the trader or admin role must run `quantdesk approve`"
            )
        _check_code(request)
        current = find_deployment(ledger, deployment)
        if current is not None and current.state is DeploymentState.RUNNING:
            raise PromotionError(
                f"deployment {deployment!r} is running on paper: stop its runner, then approve, then start it live"
            )
    except PromotionError as e:
        ledger.audit(actor, "approval.refuse", {**payload, "reason": str(e)})
        raise
    proposed = Deployment(**{**_fields(request.evidence["deployment"]), "approved_by": actor})
    now = ledger._now()
    proposed = replace(proposed, stage=Stage.LIVE, state=DeploymentState.IDLE, stage_since=now, updated_at=now)
    values = deployment_values(proposed)
    values.pop("created_at")
    values.pop("created_by")
    row = update_promotion(
        ledger, request.id,
        {"status": PromotionStatus.APPROVED.value, "decided_by": actor, "decided_at": now, "reason": reason or None},
        expect_status=PromotionStatus.PENDING.value, deployment=(deployment, values),
        audit=(actor, "promotion.approve", {**payload, "stage": Stage.LIVE.value}),
    )
    return to_request(row)


def reject(ledger: Ledger, deployment: str, *, actor: str, reason: str, via: str = "cli") -> PromotionRequest:
    """Refuse the pending live promotion of `deployment` as `actor` (a trader or admin; the requester may withdraw)."""
    pending = list_promotions(ledger, deployment=deployment, status=PromotionStatus.PENDING)
    if not pending:
        raise PromotionError(f"no live promotion of {deployment!r} is waiting for a decision")
    request = pending[-1]
    # the requester may withdraw their own request (they may request live); anyone else decides
    authorize(ledger, actor, Action.PROMOTE_LIVE if actor == request.requested_by else Action.DECIDE_LIVE, via=via)
    if not reason:
        raise PromotionError("say why the promotion is rejected (--reason), so the requester knows what to fix")
    row = update_promotion(
        ledger, request.id,
        {"status": PromotionStatus.REFUSED.value, "decided_by": actor, "decided_at": ledger._now(), "reason": reason},
        expect_status=PromotionStatus.PENDING.value,
        audit=(actor, "promotion.reject", {"deployment": deployment, "promotion_id": request.id, "reason": reason,
                                           "requested_by": request.requested_by}),
    )
    return to_request(row)


def _check_code(request: PromotionRequest) -> None:
    from quantdesk.promotion.pinning import check_pinned

    check_pinned(Deployment(**_fields(request.evidence["deployment"])))


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """Rebuild Deployment keyword arguments from its JSON form."""
    out = dict(data)
    out["params"] = dict(out["params"])
    out["symbols"] = tuple(out["symbols"])
    out["capital"] = Decimal(str(out["capital"]))
    out["stage"] = Stage(out["stage"])
    out["state"] = DeploymentState(out["state"])
    out["cost"] = CostModel(**out["cost"])
    out["rules"] = {s: MarketRules(**r) for s, r in out["rules"].items()}
    out["pnl"] = None if out.get("pnl") is None else Decimal(str(out["pnl"]))
    for key in ("created_at", "updated_at", "stage_since", "first_bar_ts", "last_bar_ts"):
        if out.get(key) is not None:
            out[key] = ensure_utc(datetime.fromisoformat(out[key]))
    return out
