"""Every rule's effective limit and the layer that set it: rows for `risk limits` and `risk status`.

Below both commands' modules (they used to import each other).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["limit_rows"]


def _config_for(deployment: str | None) -> tuple[Any, str]:
    """Return (RiskConfig, deployment name): a registered deployment's own config, else quantdesk.toml's."""
    from quantdesk.risk import RiskConfig

    if deployment is None:
        return RiskConfig.from_settings(), ""
    from quantdesk.ledger import Ledger
    from quantdesk.promotion.deployment import find_deployment, risk_config_for

    with Ledger() as ledger:
        found = find_deployment(ledger, deployment)
    if found is None:  # a name that only quantdesk.toml knows ([risk.deployments.NAME]) still has limits
        return RiskConfig.from_settings(), deployment
    return risk_config_for(found), deployment


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def limit_rows(deployment: str | None, symbol: str | None, *, show_unset: bool) -> list[dict[str, Any]]:
    """Return one row per (symbol scope, rule): key, limit (None = no limit), source."""
    config, name = _config_for(deployment)
    scopes = [symbol] if symbol is not None else ["", *config.symbols_configured(name or None)]
    rows: list[dict[str, Any]] = []
    baseline = {s.key: s for s in config.explain(name, "")}
    for scope in scopes:
        for item in config.explain(name, scope):
            if scope and symbol is None and item == baseline[item.key]:
                continue  # a symbol section lists only what it changes
            if item.source == "not set" and not show_unset:
                continue
            rows.append({"deployment": name or None, "symbol": scope or None, "rule": item.key,
                         "limit": _plain(item.value), "source": item.source})
    return rows
