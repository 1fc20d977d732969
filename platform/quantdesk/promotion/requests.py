"""Promotion requests: the stored record of each promotion, approval and refusal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from quantdesk.core.errors import PromotionError
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.ledger.registry import promotion_rows
from quantdesk.promotion.gates import GateResult

__all__ = ["PromotionRefused", "PromotionRequest", "PromotionStatus", "list_promotions", "to_request"]


class PromotionStatus(StrEnum):
    PENDING = "pending_approval"  # live: gates passed, waiting for a second person
    APPROVED = "approved"  # the deployment is at the new stage
    REFUSED = "refused"  # a gate failed, or the approver was refused
    SUPERSEDED = "superseded"  # a newer request for the same deployment replaced it


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionRequest:
    """One promotion of a deployment to a stage, with its evidence, gate results and decision."""

    id: int
    deployment: str
    from_stage: Stage | None
    to_stage: Stage
    status: PromotionStatus
    requested_by: str
    requested_at: datetime
    code_hash: str | None
    run_id: str | None
    evidence: dict[str, Any]
    gates: tuple[GateResult, ...]
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    @property
    def failing_gates(self) -> tuple[GateResult, ...]:
        """Return the gates that did not pass."""
        return tuple(g for g in self.gates if not g.passed)


class PromotionRefused(PromotionError):
    """A promotion was refused by its gates; `request` holds every gate result (stored and audited)."""

    exit_code = 3

    def __init__(self, message: str, request: PromotionRequest) -> None:
        super().__init__(message)
        self.request = request


def to_request(row: dict[str, Any]) -> PromotionRequest:
    """Convert a `promotions` row into a PromotionRequest."""
    return PromotionRequest(
        id=int(row["id"]),
        deployment=row["deployment"],
        from_stage=None if row["from_stage"] is None else Stage(row["from_stage"]),
        to_stage=Stage(row["to_stage"]),
        status=PromotionStatus(row["status"]),
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        code_hash=row["code_hash"],
        run_id=row["run_id"],
        evidence=json.loads(row["evidence"]),
        gates=tuple(GateResult(**g) for g in json.loads(row["gates"])),
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        reason=row["reason"],
    )


def list_promotions(
    ledger: Ledger, *, deployment: str | None = None, status: PromotionStatus | str | None = None
) -> list[PromotionRequest]:
    """Return promotion requests, oldest first (of one deployment and status when given)."""
    status_ = None if status is None else PromotionStatus(status).value
    return [to_request(r) for r in promotion_rows(ledger, deployment=deployment, status=status_)]
