"""What the book needs to know of each registered deployment, read from the ledger's `deployments` table.

Read here (not through `quantdesk.promotion`) so the book stays below promotion: the gates that the
broker's factory builds ask the book for the day's VaR model, and the broker must not reach up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["DeploymentInfo", "deployment_infos"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentInfo:
    """A deployment's stage, market, leverage, lake exchange, capital and reported PnL."""

    name: str
    stage: str
    symbols: tuple[str, ...]
    venue: str
    exchange: str | None
    capital: Decimal
    pnl: Decimal | None
    market: str = "spot"
    leverage: float = 1.0

    @property
    def tradable(self) -> bool:
        """At the paper or live stage: it may place orders."""
        return self.stage in ("paper", "live")

    @property
    def equity(self) -> float | None:
        """Its capital plus the PnL its runner reported (None without capital)."""
        return float(self.capital + (self.pnl or Decimal(0))) if self.capital else None


def _info(row: dict[str, Any]) -> DeploymentInfo:
    settings = json.loads(row["settings"]) if row.get("settings") else {}
    return DeploymentInfo(name=row["id"], stage=row["stage"], symbols=tuple(json.loads(row["symbols"] or "[]")),
                          venue=row["venue"] or "", exchange=row["exchange"],
                          capital=row["capital"] if row["capital"] is not None else Decimal(0), pnl=row["pnl"],
                          market=str(settings.get("market", "spot")), leverage=float(settings.get("leverage", 1.0)))


def deployment_infos(ledger: Any) -> dict[str, DeploymentInfo]:
    """Every registered deployment by name."""
    from quantdesk.ledger.registry import deployment_rows

    return {row["id"]: _info(row) for row in deployment_rows(ledger)}
