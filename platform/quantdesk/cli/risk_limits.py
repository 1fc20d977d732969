"""`quantdesk risk limits`: every rule's effective limit and the layer that set it (issue 23).

A fresh installation trades under built-in limits (`quantdesk.risk.config.BUILTIN_LIMITS`);
this command answers "what stops an order here, and who decided it": built-in default,
a `quantdesk.toml` section, or the deployment's own risk profile and overrides.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli._limits import limit_rows
from quantdesk.cli.risk import risk_app
from quantdesk.cli.tables import Col, WideOption, print_table

DeploymentOption = Annotated[str | None, typer.Option(
    "--deployment", help="A deployment's limits (its profile and overrides applied); default: every deployment.")]
SymbolOption = Annotated[str | None, typer.Option(
    "--symbol", help="The limits for this symbol (default: those for symbols without a section of their own).")]
AllOption = Annotated[bool, typer.Option("--all", help="Also list the rules no layer sets (no limit).")]


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
