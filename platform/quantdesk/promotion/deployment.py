"""Deployments: a strategy pinned to a code hash, with its market, account, risk, capital and stage.

A deployment is stored in the ledger's `deployments` table (migration 0002). Its stage moves
research -> paper -> live (or retired) only through `quantdesk.promotion.promote`/`approve`;
its runtime state (running, stopped, halted ...) and progress (last bar, PnL) are written by
the live runner through `record_runner_progress`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import LedgerError, PromotionError
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.ledger._types import canonical_json, jsonable
from quantdesk.ledger.registry import (
    deployment_row,
    deployment_rows,
    insert_deployment,
    update_deployment,
)

__all__ = [
    "Deployment",
    "DeploymentState",
    "create_deployment",
    "deployment_values",
    "find_deployment",
    "get_deployment",
    "list_deployments",
    "record_runner_progress",
    "retire_deployment",
    "risk_config_for",
    "validate_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class DeploymentState(StrEnum):
    """What the runner is doing with a deployment (its stage says where it may trade)."""

    IDLE = "idle"  # never started since its last promotion
    RUNNING = "running"
    STOPPED = "stopped"  # stopped on purpose (SIGTERM, operator)
    HALTED = "halted"  # stopped by the risk gate or an operator halt
    FAILED = "failed"  # stopped by an error (fail closed)


# The audit action written when the runner moves a deployment into a state.
_STATE_ACTIONS = {
    DeploymentState.RUNNING: "deployment.start",
    DeploymentState.STOPPED: "deployment.stop",
    DeploymentState.HALTED: "deployment.halt",
    DeploymentState.FAILED: "deployment.fail",
    DeploymentState.IDLE: "deployment.reset",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """A registered deployment: what runs, where, with how much, at which stage, and how it is doing.

    `strategy` reloads the class (`load_strategy(strategy)`): a registered name or an absolute
    `path/to/file.py:ClassName`. `code_hash` is the strategy source hash the evidence was
    produced with; the runner must call `check_pinned(deployment)` before it starts.
    `cost`, `rules`, `allow_short` and `rebalance` are the backtest's, so replays compare.
    """

    name: str
    strategy: str
    strategy_name: str
    params: dict[str, Any]
    symbols: tuple[str, ...]
    timeframe: str
    venue: str
    account: str = "default"
    exchange: str | None = None
    risk_profile: str | None = None
    risk_overrides: dict[str, Any] = field(default_factory=dict)
    capital: Decimal
    stage: Stage
    state: DeploymentState = DeploymentState.IDLE
    state_detail: str = ""
    code_hash: str
    run_id: str | None = None
    walkforward_run_id: str | None = None
    cost: CostModel = field(default_factory=CostModel)
    rules: dict[str, MarketRules] = field(default_factory=dict)  # per symbol
    allow_short: bool = False
    rebalance: bool = False
    market: str = "spot"  # "futures": a USDT-M perpetual on isolated margin at `leverage`
    leverage: float = 1.0
    created_by: str
    approved_by: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    stage_since: datetime | None = None
    first_bar_ts: datetime | None = None
    last_bar_ts: datetime | None = None
    pnl: Decimal | None = None

    @property
    def lake_exchange(self) -> str | None:
        """Return the lake exchange the evidence's candles came from (the runner reads them there)."""
        return self.exchange

    @property
    def is_tradable(self) -> bool:
        """Return True at the paper and live stages (the only ones the runner may start)."""
        return self.stage in (Stage.PAPER, Stage.LIVE)

    def to_json(self) -> dict[str, Any]:
        """Return the deployment as JSON-ready data."""
        return jsonable(self)


def validate_name(name: str) -> str:
    """Return `name` if it is a valid deployment name, else raise PromotionError."""
    if not _NAME.match(name or ""):
        raise PromotionError(
            f"deployment name {name!r} is invalid: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def _loads(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)


def _from_row(row: dict[str, Any]) -> Deployment:
    settings = _loads(row["settings"], {})
    risk = _loads(row["risk"], {})
    return Deployment(
        name=row["id"],
        strategy=row["strategy_ref"] or row["strategy"] or "",
        strategy_name=row["strategy"] or "",
        params=_loads(row["params"], {}),
        symbols=tuple(_loads(row["symbols"], [])),
        timeframe=row["timeframe"] or "",
        venue=row["venue"] or "",
        account=row["account"] or "default",
        exchange=row["exchange"],
        risk_profile=risk.get("profile"),
        risk_overrides=risk.get("overrides") or {},
        capital=row["capital"] if row["capital"] is not None else Decimal(0),
        stage=Stage(row["stage"]),
        state=DeploymentState(row["state"] or DeploymentState.IDLE),
        state_detail=row["state_detail"] or "",
        code_hash=row["code_hash"] or "",
        run_id=row["run_id"],
        walkforward_run_id=row["walkforward_run_id"],
        cost=CostModel(**settings.get("cost", {})),
        rules={s: MarketRules(**r) for s, r in settings.get("rules", {}).items()},
        allow_short=bool(settings.get("allow_short", False)),
        rebalance=bool(settings.get("rebalance", False)),
        market=str(settings.get("market", "spot")),
        leverage=float(settings.get("leverage", 1.0)),
        created_by=row["created_by"] or "",
        approved_by=row["approved_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        stage_since=row["stage_since"],
        first_bar_ts=row["first_bar_ts"],
        last_bar_ts=row["last_bar_ts"],
        pnl=row["pnl"],
    )


def deployment_values(deployment: Deployment) -> dict[str, Any]:
    """Return the `deployments` row values of `deployment` (without its name, the key)."""
    return {
        "strategy": deployment.strategy_name,
        "strategy_ref": deployment.strategy,
        "stage": deployment.stage.value,
        "created_at": deployment.created_at,
        "params": canonical_json(deployment.params),
        "symbols": canonical_json(list(deployment.symbols)),
        "timeframe": deployment.timeframe,
        "exchange": deployment.exchange,
        "venue": deployment.venue,
        "account": deployment.account,
        "risk": canonical_json(
            {"profile": deployment.risk_profile, "overrides": deployment.risk_overrides}
        ),
        "capital": deployment.capital,
        "settings": canonical_json(
            {
                "cost": deployment.cost,
                "rules": deployment.rules,
                "allow_short": deployment.allow_short,
                "rebalance": deployment.rebalance,
                **({"market": deployment.market, "leverage": deployment.leverage}
                   if deployment.market != "spot" else {}),
            }
        ),
        "code_hash": deployment.code_hash,
        "run_id": deployment.run_id,
        "walkforward_run_id": deployment.walkforward_run_id,
        "state": deployment.state.value,
        "state_detail": deployment.state_detail,
        "created_by": deployment.created_by,
        "approved_by": deployment.approved_by,
        "updated_at": deployment.updated_at,
        "stage_since": deployment.stage_since,
        "first_bar_ts": deployment.first_bar_ts,
        "last_bar_ts": deployment.last_bar_ts,
        "pnl": deployment.pnl,
    }


def find_deployment(ledger: Ledger, name: str) -> Deployment | None:
    """Return the deployment `name`, or None."""
    row = deployment_row(ledger, name)
    return None if row is None else _from_row(row)


def get_deployment(ledger: Ledger, name: str) -> Deployment:
    """Return the deployment `name`; PromotionError naming the known ones if there is none."""
    found = find_deployment(ledger, name)
    if found is None:
        known = ", ".join(d.name for d in list_deployments(ledger)) or "none yet"
        raise PromotionError(
            f"no deployment named {name!r} (known: {known}); create one with `quantdesk promote`"
        )
    return found


def list_deployments(ledger: Ledger, *, stage: Stage | str | None = None) -> list[Deployment]:
    """Return every deployment by name (only those at `stage` when given)."""
    wanted = None if stage is None else Stage(stage)
    out = [_from_row(r) for r in deployment_rows(ledger)]
    return [d for d in out if wanted is None or d.stage is wanted]


def create_deployment(
    ledger: Ledger,
    name: str,
    *,
    strategy: str,
    symbols: tuple[str, ...] | list[str],
    timeframe: str,
    actor: str,
    params: dict[str, Any] | None = None,
    venue: str = "paper",
    account: str = "default",
    exchange: str | None = None,
    capital: Decimal | float | int | str = Decimal(10_000),
    risk_profile: str | None = None,
    risk_overrides: dict[str, Any] | None = None,
    cost: CostModel | None = None,
) -> Deployment:
    """Register a deployment at the research stage (no evidence yet; it cannot run until promoted).

    The strategy is loaded and its parameters validated now; the code hash is today's source.
    """
    from quantdesk.core.timeframes import timeframe_ms
    from quantdesk.strategies import load_strategy, strategy_source_hash

    validate_name(name)
    if not symbols:
        raise PromotionError(f"deployment {name!r} needs at least one symbol, e.g. BTC/USDT")
    timeframe_ms(timeframe)  # ConfigError names a bad timeframe
    cls = load_strategy(strategy)
    instance = cls(**(params or {}))
    if exchange is None and venue == "paper":
        exchange = _lake_exchange_for(tuple(symbols))
    money = Decimal(str(capital))
    if not money > 0:
        raise PromotionError(f"capital must be a positive amount, got {money}")
    now = ledger._now()
    deployment = Deployment(
        name=name, strategy=strategy, strategy_name=cls.name, params=dict(instance.values),
        symbols=tuple(symbols), timeframe=timeframe, venue=venue, account=account, exchange=exchange,
        risk_profile=risk_profile, risk_overrides=dict(risk_overrides or {}), capital=money,
        stage=Stage.RESEARCH, code_hash=strategy_source_hash(cls), cost=cost or CostModel(),
        rules={s: MarketRules() for s in symbols}, created_by=actor, created_at=now, updated_at=now,
        stage_since=now,
    )
    values = deployment_values(deployment)
    payload = {"deployment": name, "strategy": strategy, "stage": Stage.RESEARCH.value,
               "code_hash": deployment.code_hash}
    try:
        row = insert_deployment(ledger, {"id": name, **values}, audit=(actor, "deployment.create", payload))
    except LedgerError as e:
        raise PromotionError(str(e)) from e
    return _from_row(row)


def _lake_exchange_for(symbols: tuple[str, ...]) -> str | None:
    """Return the one lake exchange holding every symbol (a paper deployment trades on its candles).

    None when no exchange holds them yet (the runner then names the missing candles); an error
    when several do, because guessing would trade on the wrong market's prices.
    """
    from quantdesk.lake import Lake

    lake = Lake()
    holders = [ex for ex in lake.exchanges() if all(sym in lake.symbols(ex) for sym in symbols)]
    if not holders:
        return None
    if len(holders) > 1:
        found = ", ".join(holders)
        raise PromotionError(
            f"cannot tell which lake exchange a paper deployment of {', '.join(symbols)} reads "
            f"(exchanges holding them: {found}); give one with --exchange"
        )
    return holders[0]


def record_runner_progress(
    ledger: Ledger,
    name: str,
    *,
    last_bar_ts: datetime | None = None,
    pnl: Decimal | float | int | str | None = None,
    state: DeploymentState | str | None = None,
    detail: str | None = None,
    actor: str = "runner",
) -> Deployment:
    """Record the runner's progress: the last bar processed, the PnL and the runtime state.

    Arguments left None keep their stored value. A change of state (start, stop, halt,
    fail) appends an audit entry by `actor` in the same transaction; progress alone does not
    (one entry per bar would drown the log). The first bar after a promotion is remembered
    as `first_bar_ts`: the paper-trading days of the live gate count from it.
    """
    current = get_deployment(ledger, name)
    values: dict[str, Any] = {"updated_at": ledger._now()}
    if last_bar_ts is not None:
        values["last_bar_ts"] = last_bar_ts
        if current.first_bar_ts is None:
            values["first_bar_ts"] = last_bar_ts
    if pnl is not None:
        values["pnl"] = Decimal(str(pnl))
    if detail is not None:
        values["state_detail"] = detail
    audit = None
    if state is not None:
        new = DeploymentState(state)
        values["state"] = new.value
        if new is not current.state:
            payload = {
                "deployment": name,
                "stage": current.stage.value,
                "state": new.value,
                "previous": current.state.value,
                "detail": detail or "",
            }
            audit = (actor, _STATE_ACTIONS[new], payload)
    try:
        row = update_deployment(ledger, name, values, audit=audit)
    except LedgerError as e:
        raise PromotionError(f"cannot record progress of deployment {name!r}: {e}") from e
    return _from_row(row)


def retire_deployment(ledger: Ledger, name: str, *, actor: str, reason: str = "") -> Deployment:
    """Move the deployment to the retired stage (it can no longer run); audit who did it."""
    current = get_deployment(ledger, name)
    if current.stage is Stage.RETIRED:
        return current
    if current.state is DeploymentState.RUNNING:
        raise PromotionError(
            f"deployment {name!r} is running: stop it (SIGTERM or `quantdesk halt`) before retiring it"
        )
    now = ledger._now()
    payload = {"deployment": name, "from_stage": current.stage.value, "reason": reason}
    row = update_deployment(
        ledger,
        name,
        {"stage": Stage.RETIRED.value, "stage_since": now, "updated_at": now},
        audit=(actor, "deployment.retire", payload),
    )
    return _from_row(row)


def risk_config_for(deployment: Deployment, settings: Any | None = None) -> Any:
    """Return the `RiskConfig` for the deployment: `[risk]` with its profile and overrides applied.

    The limits of `[risk.deployments.<risk_profile>]` (when a profile is named) and then the
    deployment's own overrides become `[risk.deployments.<name>]`, so
    `config.limits_for(deployment.name, symbol)` sees them.
    """
    from quantdesk.core.settings import get_settings
    from quantdesk.risk import RiskConfig

    raw = json.loads(json.dumps((settings or get_settings()).risk))
    if not deployment.risk_profile and not deployment.risk_overrides:
        return RiskConfig.from_dict(raw)
    per_deployment = raw.setdefault("deployments", {})
    merged: dict[str, Any] = {}
    if deployment.risk_profile:
        profile = per_deployment.get(deployment.risk_profile)
        if profile is None:
            raise PromotionError(
                f"deployment {deployment.name!r} names risk profile {deployment.risk_profile!r}, "
                "which is not in [risk.deployments] of quantdesk.toml: add it or change the deployment"
            )
        merged.update(profile)
    merged.update(per_deployment.get(deployment.name, {}))
    merged.update(deployment.risk_overrides)
    per_deployment[deployment.name] = merged
    # `quantdesk risk limits` names this layer: quantdesk.toml alone would not explain it
    parts = [f"profile {deployment.risk_profile}"] if deployment.risk_profile else []
    if deployment.risk_overrides:
        parts.append("overrides")
    origin = f"deployment {deployment.name} ({' + '.join(parts)})"
    return RiskConfig.from_dict(raw, deployment_origins={deployment.name: origin})
