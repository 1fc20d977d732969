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

Merge order, later wins key by key: built-in defaults (`BUILTIN_LIMITS`) < `[risk.default]` <
`[risk.symbols.SYM]` < `[risk.deployments.NAME]` < `[risk.deployments.NAME.symbols.SYM]`.
Deployment-wide keys (totals, gross exposure, loss limits) may only appear in
`[risk.default]` and `[risk.deployments.NAME]`.

A fresh installation is not limitless: `BUILTIN_LIMITS` (a price band, a notional cap per
order, order and cancel rates, a duplicate-order window, a leverage cap for perpetuals) hold
until a layer overrides them. A limit is removed only by writing it out, `price_band_bps =
"none"`, so "no limit" is always a decision someone wrote down (NautilusTrader and VeighNa
likewise start with their rate and size checks on). A key no layer sets means "no limit".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from quantdesk.core.errors import RiskError
from quantdesk.core.settings import Settings
from quantdesk.core.types import TradingState
from quantdesk.risk.var_config import ScenarioModel, VarSettingsModel

__all__ = ["BUILTIN_LIMITS", "DEPLOYMENT_KEYS", "SYMBOL_KEYS", "LimitSource", "RiskConfig", "RiskLimits"]

BUILTIN_SOURCE = "built-in default"

# Conservative limits every deployment starts with (issue 23). Chosen so that a fat finger
# (1000 BTC, a price 10 % off) or a runaway loop is refused, while the README's orders, the
# demo and the replays of backtests (one market order per symbol per bar) pass untouched.
BUILTIN_LIMITS: Mapping[str, Decimal | int] = {
    "price_band_bps": Decimal(500),            # a limit price within 5 % of the last trade
    "max_notional_per_order": Decimal(100_000),  # quote currency (the simulated venue's whole starting balance)
    "max_order_equity_pct": Decimal(10),        # of the account's equity, when the caller knows it
    "max_orders_per_second": 50,                # deployment-wide, as VeighNa's order_flow_limit
    "max_cancels_per_second": 50,
    "duplicate_window_ms": 500,                 # same side, qty and price twice within half a second
    "max_leverage": Decimal(10),                # perpetuals only (spot has no leverage)
}


def _none_removes(value: object) -> object:
    """`"none"` (any case) in quantdesk.toml removes a limit: TOML has no null."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return None
    return value


# "none" is read as None before the bounds apply; an explicit None then overrides the layers below
_Dec = Annotated[Decimal | None, BeforeValidator(_none_removes)]
_Int = Annotated[int | None, BeforeValidator(_none_removes)]


class _SymbolModel(BaseModel):
    """Limits that may differ per symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_qty_per_order: _Dec = Field(default=None, ge=0)
    max_notional_per_order: _Dec = Field(default=None, ge=0)
    max_position_qty: _Dec = Field(default=None, ge=0)
    max_position_notional: _Dec = Field(default=None, ge=0)
    max_active_orders_per_symbol: _Int = Field(default=None, ge=0)
    max_symbol_orders_per_second: _Int = Field(default=None, ge=0)
    max_symbol_orders_per_day: _Int = Field(default=None, ge=0)
    max_symbol_cancels_per_second: _Int = Field(default=None, ge=0)
    max_symbol_cancels_per_day: _Int = Field(default=None, ge=0)
    max_symbol_fills_per_second: _Int = Field(default=None, ge=0)
    max_symbol_fills_per_day: _Int = Field(default=None, ge=0)
    price_band_bps: _Dec = Field(default=None, gt=0)
    duplicate_window_ms: _Int = Field(default=None, ge=0)
    # perpetual futures (symbols the context gives a leverage for; spot never triggers these)
    max_leverage: _Dec = Field(default=None, ge=1)
    min_liquidation_distance_pct: _Dec = Field(default=None, gt=0, le=100)
    # the notional cap as a share of the account's equity (applies when the check knows the equity)
    max_order_equity_pct: _Dec = Field(default=None, gt=0, le=1000)


class _DeploymentLimitsModel(_SymbolModel):
    """Limits over a whole deployment (all its symbols together)."""

    max_gross_exposure: _Dec = Field(default=None, ge=0)
    max_active_orders: _Int = Field(default=None, ge=0)
    max_orders_per_second: _Int = Field(default=None, ge=0)
    max_orders_per_day: _Int = Field(default=None, ge=0)
    max_cancels_per_second: _Int = Field(default=None, ge=0)
    max_cancels_per_day: _Int = Field(default=None, ge=0)
    max_fills_per_second: _Int = Field(default=None, ge=0)
    max_fills_per_day: _Int = Field(default=None, ge=0)
    daily_loss_limit: _Dec = Field(default=None, gt=0)
    daily_loss_limit_pct: _Dec = Field(default=None, gt=0, le=100)
    max_drawdown_pct: _Dec = Field(default=None, gt=0, le=100)
    on_daily_loss: Literal["REDUCING", "HALTED"] | None = None
    on_max_drawdown: Literal["REDUCING", "HALTED"] | None = None
    # pre-trade VaR limits (issue 25, `quantdesk.risk.var_limit`): percent of equity
    max_desk_var_pct: _Dec = Field(default=None, gt=0, le=100)
    max_deployment_var_pct: _Dec = Field(default=None, gt=0, le=100)


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
    max_order_equity_pct: Decimal | None = None
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


@dataclass(frozen=True, slots=True)
class LimitSource:
    """One rule's effective limit for a (deployment, symbol) and the layer that set it."""

    key: str
    value: Decimal | int | str | None  # None: no limit (removed with "none", or never set)
    source: str  # "built-in default", "[risk.default]", "[risk.symbols.\"BTC/USDT\"]", "deployment alpha", ...


class RiskConfig:
    """Validated risk settings; `limits_for(deployment, symbol)` merges and caches the layers.

    `deployment_origins` names where a `[risk.deployments.NAME]` layer came from when it is not
    quantdesk.toml alone (the deployment's risk profile and overrides in the ledger).
    """

    __slots__ = ("_cache", "_model", "_origins")

    def __init__(self, model: _RiskModel | None = None, *,
                 deployment_origins: Mapping[str, str] | None = None) -> None:
        self._model = model or _RiskModel()
        self._origins = dict(deployment_origins or {})
        self._cache: dict[tuple[str, str], RiskLimits] = {}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object] | None, *,
                  deployment_origins: Mapping[str, str] | None = None) -> RiskConfig:
        """Validate the `[risk]` table; raise RiskError naming the bad key."""
        try:
            return cls(_RiskModel.model_validate(dict(raw or {})), deployment_origins=deployment_origins)
        except ValidationError as e:
            raise RiskError(_error_message(e)) from None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RiskConfig:
        """Read `get_settings().risk` (or the given settings' `risk`)."""
        if settings is None:
            from quantdesk.core.settings import get_settings

            settings = get_settings()
        return cls.from_dict(settings.risk)

    def _layers(self, deployment: str, symbol: str) -> list[tuple[str, dict[str, Any]]]:
        """Return (source, explicitly written keys) from the lowest layer to the highest.

        `exclude_unset` keeps a key written as "none" (None): it removes the layers' limit below.
        """
        model = self._model
        layers: list[tuple[str, dict[str, Any]]] = [
            (BUILTIN_SOURCE, dict(BUILTIN_LIMITS)),
            ("[risk.default]", model.default.model_dump(exclude_unset=True)),
        ]
        if symbol in model.symbols:
            layers.append((f'[risk.symbols."{symbol}"]', model.symbols[symbol].model_dump(exclude_unset=True)))
        dep = model.deployments.get(deployment)
        if dep is not None:
            origin = self._origins.get(deployment) or f"[risk.deployments.{deployment}]"
            layers.append((origin, dep.model_dump(exclude_unset=True, exclude={"symbols"})))
            if symbol in dep.symbols:
                layers.append((f'{origin} symbol "{symbol}"', dep.symbols[symbol].model_dump(exclude_unset=True)))
        return layers

    def limits_for(self, deployment: str, symbol: str) -> RiskLimits:
        """Return the merged limits for one deployment and symbol (cached)."""
        key = (deployment, symbol)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        merged: dict[str, Any] = {}
        for _source, values in self._layers(deployment, symbol):
            merged.update(values)
        for name in ("on_daily_loss", "on_max_drawdown"):
            if merged.get(name) is not None:
                merged[name] = TradingState(merged[name])
            else:
                merged.pop(name, None)  # "none" there means: the default reaction
        limits = RiskLimits(**merged)
        self._cache[key] = limits
        return limits

    def explain(self, deployment: str, symbol: str = "") -> list[LimitSource]:
        """Return every limit's effective value for (deployment, symbol) and the layer that set it."""
        value: dict[str, Any] = {}
        source: dict[str, str] = {}
        for name, values in self._layers(deployment, symbol):
            for k, v in values.items():
                value[k], source[k] = v, name
        out = []
        for f in fields(RiskLimits):
            v = value.get(f.name)
            out.append(LimitSource(key=f.name, value=str(v) if isinstance(v, str) else v,
                                   source=source.get(f.name, "not set")))
        return out

    def symbols_configured(self, deployment: str | None = None) -> tuple[str, ...]:
        """Return the symbols with a layer of their own (`[risk.symbols.SYM]`, a deployment's symbols)."""
        found = set(self._model.symbols)
        for name, dep in self._model.deployments.items():
            if deployment is None or name == deployment:
                found.update(dep.symbols)
        return tuple(sorted(found))

    def deployments_configured(self) -> tuple[str, ...]:
        """Return the deployments with a `[risk.deployments.NAME]` layer."""
        return tuple(sorted(self._model.deployments))

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
