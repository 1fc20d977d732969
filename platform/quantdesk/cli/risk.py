"""`quantdesk halt`, `quantdesk resume`, `quantdesk risk status`: the trading state, by hand, audited.

The state lives in the ledger (scope `global`, or `deployment:NAME`); running gated brokers
re-read it within a second. Every change is an audit entry with the actor. The policy decides
who may: halting needs no password (a kill switch must be quick) but a registered trader or admin;
resuming after an automatic loss-limit or drawdown halt needs an admin.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import PasswordStdinOption
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli._notify import deliver_pending

risk_app = typer.Typer(help="Risk gate: trading state, limits and recent denials.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")

ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (stored in the ledger and the audit log).")]
DeploymentOption = Annotated[
    str | None, typer.Option("--deployment", help="Only this deployment (default: all trading, scope `global`).")
]
ActorOption = Annotated[
    str | None,
    typer.Option("--as", "--actor", help="Act as this user (needs their password; default: QUANTDESK_USER, else the OS login)."),
]


def _open_ledger() -> Any:
    from quantdesk.core.errors import LedgerError
    from quantdesk.ledger import Ledger

    try:
        return Ledger()
    except NotImplementedError as e:
        raise LedgerError("the ledger is not available in this build; trading state cannot be changed") from e


def _set_state(state: str, reason: str, deployment: str | None, actor: str | None,
               password_stdin: bool = False) -> dict[str, Any]:
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.core.types import TradingState
    from quantdesk.identity.policy import Action, resume_action
    from quantdesk.risk import GLOBAL_SCOPE, deployment_scope

    scope = GLOBAL_SCOPE if deployment is None else deployment_scope(deployment)
    with _open_ledger() as ledger:
        # the record names who did it: your desk identity, or someone else only with their password
        # (a free-text name would let anyone sign a halt or a resume as anyone); the policy says who may
        action = Action.HALT if TradingState(state) is TradingState.HALTED else resume_action(ledger, scope)
        who = authorized_actor(ledger, actor, action, password_stdin=password_stdin)
        previous = ledger.trading_state(scope)
        record = ledger.set_trading_state(scope, TradingState(state), reason, who)
    return {
        "scope": record.scope,
        "previous": previous.state,
        "state": record.state,
        "reason": record.reason,
        "actor": record.actor,
        "updated_at": record.updated_at,
    }


@app.command("halt")
@handle_errors
def halt(
    reason: ReasonOption = None,
    deployment: DeploymentOption = None,
    actor: ActorOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Halt trading: the risk gate lets only cancels through until `quantdesk resume`.

    Example: quantdesk halt --reason "venue incident"
    """
    result = _set_state("HALTED", reason or "halted by operator", deployment, actor, password_stdin)
    deliver_pending()  # the halt and its message were stored together; send it now if a channel answers
    if json_output:
        emit(result)
    else:
        console.print(f"[bold red]HALTED[/] {result['scope']} ({result['reason']}) by {result['actor']}")


@app.command("resume")
@handle_errors
def resume(
    reason: ReasonOption = None,
    deployment: DeploymentOption = None,
    actor: ActorOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Resume trading (state ACTIVE) after a halt or a loss limit.

    Example: quantdesk resume --reason "incident closed"
    """
    result = _set_state("ACTIVE", reason or "resumed by operator", deployment, actor, password_stdin)
    deliver_pending()
    if json_output:
        emit(result)
    else:
        console.print(f"[bold green]ACTIVE[/] {result['scope']} ({result['reason']}) by {result['actor']}")


@risk_app.command("status")
@handle_errors
def status(
    limit: Annotated[int, typer.Option("--limit", help="How many recent risk events to show.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Show the trading states, the configured limits and the latest risk events.

    Example: quantdesk risk status --json
    """
    from quantdesk.cli._limits import limit_rows
    from quantdesk.risk import RiskConfig

    config = RiskConfig.from_settings()  # validates [risk]: a bad key fails here, not at trade time
    with _open_ledger() as ledger:
        states = ledger.trading_states()
        events = ledger.risk_events(limit=limit) if limit > 0 else []
    global_state = next((s.state for s in states if s.scope == "global"), "ACTIVE")
    payload: dict[str, Any] = {
        "state": global_state,
        "scopes": [
            {"scope": s.scope, "state": s.state, "reason": s.reason, "actor": s.actor, "updated_at": s.updated_at}
            for s in states
        ],
        "limits": config.as_dict(),  # as written in quantdesk.toml
        "effective_limits": limit_rows(None, None, show_unset=False),  # with the built-in defaults, by source
        "recent_events": [
            {
                "ts": e.ts,
                "approved": e.approved,
                "code": e.code,
                "detail": e.detail,
                "deployment": e.deployment,
                "symbol": e.symbol,
            }
            for e in events
        ],
    }
    if json_output:
        emit(payload)
        return
    _print_status(payload)


def _print_status(payload: dict[str, Any]) -> None:
    """Readable `risk status`: states, the limits in force (with their source), recent events."""
    from rich.markup import escape

    console.print(f"trading state: [bold]{payload['state']}[/]")
    for s in payload["scopes"]:
        console.print(escape(f"  {s['scope']}: {s['state']} ({s['reason']}) by {s['actor']} at {s['updated_at']}"))
    rows = payload["effective_limits"]
    console.print(f"limits ({len(rows)}; `quantdesk risk limits` explains each):")
    for r in rows:
        where = f"{r['symbol']} " if r["symbol"] else ""
        limit = "none" if r["limit"] is None else r["limit"]
        console.print(escape(f"  {where}{r['rule']} = {limit}  ({r['source']})"))
    events = payload["recent_events"]
    console.print(f"recent risk events: {len(events) or 'none'}")
    for e in events:
        where = " ".join(x for x in (e["deployment"], e["symbol"]) if x)
        console.print(escape(f"  {e['ts']} {e['code']} {where}: {e['detail']}"))
