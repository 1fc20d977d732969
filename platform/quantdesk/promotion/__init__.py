"""The promotion registry: deployments, evidence gates, approvals, users and roles (issue 5).

    from quantdesk.promotion import get_deployment, check_pinned, record_runner_progress
    deployment = get_deployment(ledger, "sma-btc")
    check_pinned(deployment)            # PromotionError if the strategy source changed
    record_runner_progress(ledger, "sma-btc", last_bar_ts=ts, pnl=pnl, state="running")

Stages research -> paper -> live (and retired): `promote` checks the gates on a stored
backtest run; a live promotion also needs paper days, drift within a threshold and
`approve` by a second person. Everything is audited with its actor.
"""

from quantdesk.identity.users import Role, User, add_user, get_user, list_users, resolve_actor
from quantdesk.promotion.deployment import (
    Deployment,
    DeploymentState,
    create_deployment,
    find_deployment,
    get_deployment,
    list_deployments,
    record_runner_progress,
    retire_deployment,
    risk_config_for,
)
from quantdesk.promotion.evidence import Evidence, collect_evidence, evaluate_gates
from quantdesk.promotion.gates import GateResult, PromotionGates
from quantdesk.promotion.pinning import check_pinned, check_startable, current_code_hash
from quantdesk.promotion.promote import approve, promote, reject
from quantdesk.promotion.requests import (
    PromotionRefused,
    PromotionRequest,
    PromotionStatus,
    list_promotions,
)

__all__ = [
    "Deployment",
    "DeploymentState",
    "Evidence",
    "GateResult",
    "PromotionGates",
    "PromotionRefused",
    "PromotionRequest",
    "PromotionStatus",
    "Role",
    "User",
    "add_user",
    "approve",
    "check_pinned",
    "check_startable",
    "collect_evidence",
    "create_deployment",
    "current_code_hash",
    "evaluate_gates",
    "find_deployment",
    "get_deployment",
    "get_user",
    "list_deployments",
    "list_promotions",
    "list_users",
    "promote",
    "record_runner_progress",
    "reject",
    "resolve_actor",
    "retire_deployment",
    "risk_config_for",
]
