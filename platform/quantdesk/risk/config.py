"""Risk limits from `quantdesk.toml`: pydantic at the edge, plain frozen values in the hot path.

```toml
[risk.default]                      # every deployment, every symbol
max_notional_per_order = 10000
max_orders_per_second = 5           # deployment-wide (all symbols together)
daily_loss_limit_pct = 3
on_daily_loss = "REDUCING"

[risk.symbols."BTC/USDT"]           # every deployment, this symbol
max_position_qty = 2
price_band_bps = 200

[risk.deployments.alpha]            # this deployment, every symbol
max_gross_exposure = 50000

[risk.deployments.alpha.symbols."BTC/USDT"]   # this deployment, this symbol
max_position_qty = 0.5
```

Merge order, later wins key by key: built-in defaults < `[risk.default]` <
`[risk.symbols.SYM]` < `[risk.deployments.NAME]` < `[risk.deployments.NAME.symbols.SYM]`.
Deployment-wide keys (totals, gross exposure, loss limits) may only appear in
`[risk.default]` and `[risk.deployments.NAME]`. An unset key means "no limit".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quantdesk.core.errors import RiskError
from quantdesk.core.settings import Settings
from quantdesk.core.types import TradingState
from quantdesk.risk.var_config import ScenarioModel, VarSettingsModel

__all__ = ["DEPLOYMENT_KEYS", "SYMBOL_KEYS", "RiskConfig", "RiskLimits"]



class _SymbolModel(BaseModel):
    """Limits that may differ per symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_qty_per_order: Decimal | None = Field(default=None, ge=0)
    max_notional_per_order: Decimal | None = Field(default=None, ge=0)
    max_position_qty: Decimal | None = Field(default=None, ge=0)
    max_position_notional: Decimal | None = Field(default=None, ge=0)
    max_active_orders_per_symbol: int | None = Field(default=None, ge=0)
    max_symbol_orders_per_second: int | None = Field(default=None, ge=0)
    max_symbol_orders_per_day: int | None = Field(default=None, ge=0)
    max_symbol_cancels_per_second: int | None = Field(default=None, ge=0)
    max_symbol_cancels_per_day: int | None = Field(default=None, ge=0)
    max_symbol_fills_per_second: int | None = Field(default=None, ge=0)
    max_symbol_fills_per_day: int | None = Field(default=None, ge=0)
    price_band_bps: Decimal | None = Field(default=None, gt=0)
    duplicate_window_ms: int | None = Field(default=None, ge=0)
    # perpetual futures (symbols the context gives a leverage for; spot never triggers these)
    max_leverage: Decimal | None = Field(default=None, ge=1)
    min_liquidation_distance_pct: Decimal | None = Field(default=None, gt=0, le=100)


class _DeploymentLimitsModel(_SymbolModel):
    """Limits over a whole deployment (all its symbols together)."""

    max_gross_exposure: Decimal | None = Field(default=None, ge=0)
    max_active_orders: int | None = Field(default=None, ge=0)
    max_orders_per_second: int | None = Field(default=None, ge=0)
    max_orders_per_day: int | None = Field(default=None, ge=0)
    max_cancels_per_second: int | None = Field(default=None, ge=0)
    max_cancels_per_day: int | None = Field(default=None, ge=0)
    max_fills_per_second: int | None = Field(default=None, ge=0)
    max_fills_per_day: int | None = Field(default=None, ge=0)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    daily_loss_limit_pct: Decimal | None = Field(default=None, gt=0, le=100)
    max_drawdown_pct: Decimal | None = Field(default=None, gt=0, le=100)
    on_daily_loss: Literal["REDUCING", "HALTED"] | None = None
    on_max_drawdown: Literal["REDUCING", "HALTED"] | None = None
    # pre-trade VaR limits (issue 25, `quantdesk.risk.var_limit`): percent of equity
    max_desk_var_pct: Decimal | None = Field(default=None, gt=0, le=100)
    max_deployment_var_pct: Decimal | None = Field(default=None, gt=0, le=100)


class _DeploymentModel(_DeploymentLimitsModel):
    symbols: dict[str, _SymbolModel] = Field(default_factory=dict)


class _RiskModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: _DeploymentLimitsModel = Field(default_factory=_DeploymentLimitsModel)
    symbols: dict[str, _SymbolModel] = Field(default_factory=dict)
    deployments: dict[str, _DeploymentModel] = Field(default_factory=dict)
    var: VarSettingsModel = Field(default_factory=VarSettingsModel)  # [risk.var]
    scenarios: list[ScenarioModel] = Field(default_factory=list)  # [[risk.scenarios]]


SYMBOL_KEYS: frozenset[str] = frozenset(_SymbolModel.model_fields)
DEPLOYMENT_KEYS: frozenset[str] = frozenset(_DeploymentLimitsModel.model_fields) - SYMBOL_KEYS


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """The merged limits for one (deployment, symbol). None means "no limit"."""

    max_qty_per_order: Decimal | None = None
    max_notional_per_order: Decimal | None = None
    max_position_qty: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_active_orders_per_symbol: int | None = None
    max_symbol_orders_per_second: int | None = None
    max_symbol_orders_per_day: int | None = None
    max_symbol_cancels_per_second: int | None = None
    max_symbol_cancels_per_day: int | None = None
    max_symbol_fills_per_second: int | None = None
    max_symbol_fills_per_day: int | None = None
    price_band_bps: Decimal | None = None
    duplicate_window_ms: int | None = None
    max_leverage: Decimal | None = None
    min_liquidation_distance_pct: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_active_orders: int | None = None
    max_orders_per_second: int | None = None
    max_orders_per_day: int | None = None
    max_cancels_per_second: int | None = None
    max_cancels_per_day: int | None = None
    max_fills_per_second: int | None = None
    max_fills_per_day: int | None = None
    daily_loss_limit: Decimal | None = None
    daily_loss_limit_pct: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    on_daily_loss: TradingState = TradingState.REDUCING
    on_max_drawdown: TradingState = TradingState.HALTED
    max_desk_var_pct: Decimal | None = None
    max_deployment_var_pct: Decimal | None = None


_LIMIT_FIELDS = frozenset(f.name for f in fields(RiskLimits))
assert _LIMIT_FIELDS == SYMBOL_KEYS | DEPLOYMENT_KEYS  # the model and the value must agree


def _error_message(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    key = str(first["loc"][-1]) if first["loc"] else ""
    if first["type"] == "extra_forbidden" and key in DEPLOYMENT_KEYS:
        return (
            f"risk.{loc} is a deployment-wide limit, not a per-symbol one; "
            "set it in [risk.default] or [risk.deployments.NAME]"
        )
    if first["type"] == "extra_forbidden" and len(first["loc"]) == 1 and key in SYMBOL_KEYS | DEPLOYMENT_KEYS:
        return (f"risk.{key} is a limit, and limits live in a table: write it under [risk.default] (every "
                "deployment), [risk.symbols.\"BTC/USDT\"] or [risk.deployments.NAME]")
    if first["type"] == "extra_forbidden":
        known = ", ".join(sorted(SYMBOL_KEYS | DEPLOYMENT_KEYS))
        return f"risk.{loc} is not a known risk setting; use one of: {known}"
    return f"risk.{loc} = {first.get('input')!r} is invalid: {first['msg']}; fix it in quantdesk.toml"


class RiskConfig:
    """Validated risk settings; `limits_for(deployment, symbol)` merges and caches the layers."""

    __slots__ = ("_cache", "_model")

    def __init__(self, model: _RiskModel | None = None) -> None:
        self._model = model or _RiskModel()
        self._cache: dict[tuple[str, str], RiskLimits] = {}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object] | None) -> RiskConfig:
        """Validate the `[risk]` table; raise RiskError naming the bad key."""
        try:
            return cls(_RiskModel.model_validate(dict(raw or {})))
        except ValidationError as e:
            raise RiskError(_error_message(e)) from None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RiskConfig:
        """Read `get_settings().risk` (or the given settings' `risk`)."""
        if settings is None:
            from quantdesk.core.settings import get_settings

            settings = get_settings()
        return cls.from_dict(settings.risk)

    def limits_for(self, deployment: str, symbol: str) -> RiskLimits:
        """Return the merged limits for one deployment and symbol (cached)."""
        key = (deployment, symbol)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        model = self._model
        merged: dict[str, Any] = {}
        merged.update(model.default.model_dump(exclude_unset=True, exclude_none=True))
        if symbol in model.symbols:
            merged.update(model.symbols[symbol].model_dump(exclude_unset=True, exclude_none=True))
        dep = model.deployments.get(deployment)
        if dep is not None:
            merged.update(dep.model_dump(exclude_unset=True, exclude_none=True, exclude={"symbols"}))
            if symbol in dep.symbols:
                merged.update(dep.symbols[symbol].model_dump(exclude_unset=True, exclude_none=True))
        for name in ("on_daily_loss", "on_max_drawdown"):
            if name in merged:
                merged[name] = TradingState(merged[name])
        limits = RiskLimits(**merged)
        self._cache[key] = limits
        return limits

    @property
    def var_settings(self) -> VarSettingsModel:
        """`[risk.var]`: method, confidence and window of the VaR limit and the monitor's series."""
        return self._model.var

    @property
    def scenarios(self) -> tuple[ScenarioModel, ...]:
        """`[[risk.scenarios]]`: the desk's own stress scenarios."""
        return tuple(self._model.scenarios)

    def as_dict(self) -> dict[str, object]:
        """Return the validated settings as plain data (for `risk status --json`)."""
        return self._model.model_dump(mode="json", exclude_none=True)
