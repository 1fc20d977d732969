"""Promotion gates: configurable thresholds, checked together, every failure reported.

Configured in `quantdesk.toml` (validated by pydantic at this edge):

    [promotion]              # every promotion
    min_oos_sharpe = 0.5     # walk-forward out-of-sample Sharpe (annualised)
    max_drawdown = 0.30      # |max drawdown| of the backtest run, as a fraction
    min_trades = 20          # closed round trips in the backtest run
    require_lookahead_pass = true
    min_deflated_sharpe = 0.90
    min_paper_days = 14      # live only: days of paper trading (drift report's span)
    max_drift_bps = 25.0     # live only: drift of paper fills from the backtest, bps

    [promotion.live]         # optional: stricter values for live promotions
    min_oos_sharpe = 1.0
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quantdesk.core.errors import ConfigError
from quantdesk.core.types import Stage

__all__ = ["GateResult", "PromotionGates", "failing", "format_failures"]


class _GatesModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_oos_sharpe: float = 0.5
    max_drawdown: float = Field(0.30, ge=0)
    min_trades: int = Field(20, ge=0)
    require_lookahead_pass: bool = True
    min_deflated_sharpe: float = Field(0.90, ge=0, le=1)
    min_paper_days: float = Field(14.0, ge=0)
    max_drift_bps: float = Field(25.0, ge=0)


class _PromotionModel(_GatesModel):
    paper: dict[str, Any] = Field(default_factory=dict)
    live: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionGates:
    """Thresholds a promotion must meet (defaults above; `from_settings` reads quantdesk.toml)."""

    min_oos_sharpe: float = 0.5
    max_drawdown: float = 0.30
    min_trades: int = 20
    require_lookahead_pass: bool = True
    min_deflated_sharpe: float = 0.90
    min_paper_days: float = 14.0
    max_drift_bps: float = 25.0

    @classmethod
    def from_settings(cls, stage: Stage | str = Stage.PAPER, settings: Any | None = None) -> PromotionGates:
        """Return the gates for promotions to `stage` from `[promotion]` (and `[promotion.<stage>]`)."""
        if settings is None:
            from quantdesk.core.settings import get_settings

            settings = get_settings()
        return cls.from_dict(settings.promotion, stage)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None, stage: Stage | str = Stage.PAPER) -> PromotionGates:
        """Validate a `[promotion]` table; ConfigError naming the bad key and the fix."""
        try:
            model = _PromotionModel.model_validate(dict(raw or {}))
            base = model.model_dump(exclude={"paper", "live"})
            section = model.live if Stage(stage) is Stage.LIVE else model.paper
            merged = _GatesModel.model_validate({**base, **section})
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"[promotion] in quantdesk.toml: {where}: {err['msg']} "
                f"(known keys: {', '.join(_GatesModel.model_fields)})"
            ) from None
        return cls(**merged.model_dump())

    def as_dict(self) -> dict[str, Any]:
        """Return the thresholds as plain data."""
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    """One gate: its name, the figure measured, the threshold and whether it passed."""

    name: str
    passed: bool
    figure: Any
    threshold: Any
    detail: str = ""

    def line(self) -> str:
        """Return `name: figure vs threshold (detail)` for messages."""
        figure = _fmt(self.figure)
        text = f"{self.name}: {figure} (needs {self.threshold})"
        return f"{text}; {self.detail}" if self.detail else text


def _fmt(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def failing(results: list[GateResult] | tuple[GateResult, ...]) -> list[GateResult]:
    """Return the gates that did not pass, in order."""
    return [g for g in results if not g.passed]


def format_failures(results: list[GateResult] | tuple[GateResult, ...]) -> str:
    """Return every failing gate on one line, separated by ' | '."""
    return " | ".join(g.line() for g in failing(results))
