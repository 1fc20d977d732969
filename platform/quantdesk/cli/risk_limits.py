"""`quantdesk risk limits`: every rule's effective limit and the layer that set it (issue 23).

A fresh installation trades under built-in limits (`quantdesk.risk.config.BUILTIN_LIMITS`);
this command answers "what stops an order here, and who decided it": built-in default,
a `quantdesk.toml` section, or the deployment's own risk profile and overrides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.risk import risk_app
from quantdesk.cli.tables import Col, WideOption, print_table

DeploymentOption = Annotated[str | None, typer.Option(
    "--deployment", help="A deployment's limits (its profile and overrides applied); default: every deployment.")]
SymbolOption = Annotated[str | None, typer.Option(
    "--symbol", help="The limits for this symbol (default: those for symbols without a section of their own).")]
AllOption = Annotated[bool, typer.Option("--all", help="Also list the rules no layer sets (no limit).")]


def _config_for(deployment: str | None) -> tuple[Any, str]:
    """Return (RiskConfig, deployment name): a registered deployment's own config, else quantdesk.toml's."""
    from quantdesk.risk import RiskConfig

    if deployment is None:
        return RiskConfig.from_settings(), ""
    from quantdesk.cli.risk import _open_ledger
    from quantdesk.promotion.deployment import find_deployment, risk_config_for

    with _open_ledger() as ledger:
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


@risk_app.command("limits")
@handle_errors
def limits(
    deployment: DeploymentOption = None,
    symbol: SymbolOption = None,
    show_unset: AllOption = False,
    wide: WideOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show the effective limit of every rule and where it came from.

    "none" means removed: someone wrote `KEY = "none"`. Example: quantdesk risk limits --deployment alpha
    """
    rows = limit_rows(deployment, symbol, show_unset=show_unset)
    if json_output:
        emit({"deployment": deployment, "symbol": symbol, "limits": rows})
        return
    columns = [Col("symbol", priority=1), Col("rule", priority=0), Col("limit", priority=0, justify="right"),
               Col("source", priority=0)]
    from rich.markup import escape  # "[risk.default]" is a section name, not rich markup

    table = [[escape(r["symbol"] or "every symbol"), r["rule"], "none" if r["limit"] is None else str(r["limit"]),
              escape(r["source"])] for r in rows]
    title = f"risk limits for deployment {deployment}" if deployment else "risk limits (every deployment)"
    print_table(console, columns, table, wide=wide, title=title)
