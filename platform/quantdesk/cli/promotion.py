"""`quantdesk promote`, `approve`, `deployments`, `deployment create|show|retire` (users: cli/identity.py).

The acting user is `--as`, else QUANTDESK_USER, else the OS login; the policy
(`quantdesk.identity.policy`) decides who may, and every action is audited with that user.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import PasswordStdinOption, authorized_actor, default_identity
from quantdesk.cli._common import JsonOption, console, emit, fail, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table
from quantdesk.core.display import money, quote_currency, signed_money

deployment_app = typer.Typer(help="Deployments: create, show, retire.", no_args_is_help=True)
app.add_typer(deployment_app, name="deployment")

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (needs their password; default: QUANTDESK_USER, else the OS login)."),
]


def _open() -> Any:
    from quantdesk.ledger import Ledger

    return Ledger()


def _request_view(request: Any) -> dict[str, Any]:
    return {
        "id": request.id, "deployment": request.deployment,
        "from_stage": request.from_stage, "to_stage": request.to_stage, "status": request.status,
        "requested_by": request.requested_by, "requested_at": request.requested_at,
        "decided_by": request.decided_by, "decided_at": request.decided_at, "reason": request.reason,
        "run_id": request.run_id, "code_hash": request.code_hash,
        "gates": list(request.gates), "failing_gates": [g.name for g in request.failing_gates],
        "evidence": request.evidence.get("evidence", {}),
    }


def _deployment_view(d: Any) -> dict[str, Any]:
    return {
        "name": d.name, "strategy": d.strategy, "strategy_name": d.strategy_name, "params": d.params,
        "symbols": list(d.symbols), "timeframe": d.timeframe, "venue": d.venue, "account": d.account,
        "exchange": d.exchange, "capital": d.capital, "stage": d.stage, "state": d.state,
        "state_detail": d.state_detail, "pnl": d.pnl, "last_bar_ts": d.last_bar_ts,
        "first_bar_ts": d.first_bar_ts, "code_hash": d.code_hash, "run_id": d.run_id,
        "walkforward_run_id": d.walkforward_run_id, "risk_profile": d.risk_profile,
        "risk_overrides": d.risk_overrides, "created_by": d.created_by, "approved_by": d.approved_by,
        "created_at": d.created_at, "stage_since": d.stage_since, "updated_at": d.updated_at,
    }


def _pending(request: Any | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {"id": request.id, "to_stage": request.to_stage, "requested_by": request.requested_by,
            "requested_at": request.requested_at}


def _print_gates(request: Any) -> None:
    for gate in request.gates:
        mark = "[green]pass[/]" if gate.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {gate.line()}", highlight=False)


@app.command("promote")
@handle_errors
def promote_command(
    strategy: Annotated[str, typer.Argument(help="Registered strategy name or path/to/file.py:ClassName.")],
    run: Annotated[str, typer.Option("--run", help="The backtest run id that is the evidence.")],
    to: Annotated[str, typer.Option("--to", help="Target stage: paper or live.")],
    name: Annotated[str | None, typer.Option("--name", help="Deployment name (default: the strategy's name).")] = None,
    venue: Annotated[str | None, typer.Option("--venue", help="Venue to trade on (default: the run's exchange).")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Account at the venue.")] = None,
    capital: Annotated[str | None, typer.Option("--capital", help="Quote capital (default: the run's initial cash).")] = None,
    walkforward: Annotated[
        str | None, typer.Option("--walkforward", help="Walk-forward run id (default: newest of this strategy and code).")
    ] = None,
    risk_profile: Annotated[
        str | None, typer.Option("--risk-profile", help="A [risk.deployments.NAME] section to apply.")
    ] = None,
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Promote a backtested strategy to paper or live, checking every gate on the stored evidence.

    A live promotion needs your password and waits for `quantdesk approve` by a second,
    authenticated person.
    Example: quantdesk promote sma_cross --run backtest-20240101T000000-abc123 --to paper --name sma-btc
    """
    from quantdesk.identity.policy import Action
    from quantdesk.parity import drift_report
    from quantdesk.promotion import PromotionRefused, promote

    with _open() as ledger:
        action = Action.PROMOTE_LIVE if to.strip().lower() == "live" else Action.PROMOTE_PAPER
        who = authorized_actor(ledger, actor, action, password_stdin=password_stdin)
        try:
            request = promote(
                ledger, strategy, run_id=run, to=to, actor=who, name=name, venue=venue, account=account,
                capital=capital, walkforward_run_id=walkforward, risk_profile=risk_profile, drift=drift_report,
            )
        except PromotionRefused as e:
            if json_output:
                emit(_request_view(e.request))
            else:
                _print_gates(e.request)
            raise fail(str(e), e.exit_code) from None
    if json_output:
        emit(_request_view(request))
        return
    _print_gates(request)
    if request.status == "pending_approval":
        console.print(
            f"live promotion of {request.deployment} requested by {who} (request {request.id}); "
            f"another trader or admin must run `quantdesk approve {request.deployment}`"
        )
    else:
        console.print(f"{request.deployment} is now at stage {request.to_stage.value}, pinned to {(request.code_hash or '')[:12]}")


@app.command("approve")
@handle_errors
def approve_command(
    deployment: Annotated[str, typer.Argument(help="Deployment whose live promotion to approve.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (stored with the decision; required with --reject).")] = "",
    reject_: Annotated[bool, typer.Option("--reject", help="Refuse the request instead of approving it.")] = False,
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Approve (or --reject) a pending live promotion: a trader or admin other than the requester, with their password.

    Example: quantdesk approve sma-btc --as carol
    """
    from quantdesk.identity.policy import Action
    from quantdesk.promotion import approve, list_promotions, reject

    with _open() as ledger:
        # withdrawing your own request is the requester's right; deciding anyone else's is DECIDE_LIVE
        pending = list_promotions(ledger, deployment=deployment, status="pending_approval")
        mine = bool(reject_ and pending and pending[-1].requested_by == (actor or default_identity()))
        who = authorized_actor(ledger, actor, Action.PROMOTE_LIVE if mine else Action.DECIDE_LIVE,
                               password_stdin=password_stdin)
        if reject_:
            request = reject(ledger, deployment, actor=who, reason=reason)
        else:
            request = approve(ledger, deployment, actor=who, reason=reason)
    if json_output:
        emit(_request_view(request))
    elif reject_:
        console.print(f"live promotion of {deployment} rejected by {who}: {reason}")
    else:
        console.print(f"{deployment} is live: approved by {who}, requested by {request.requested_by}")


@app.command("deployments")
@handle_errors
def deployments_command(
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage.")] = None,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List deployments with stage, state, PnL and the last bar processed.

    Example: quantdesk deployments --json
    """
    from quantdesk.promotion import list_deployments, list_promotions

    with _open() as ledger:
        rows = list_deployments(ledger, stage=stage)
        pending = {r.deployment: r for r in list_promotions(ledger, status="pending_approval")}
    views = [{**_deployment_view(d), "pending_promotion": _pending(pending.get(d.name))} for d in rows]
    if json_output:
        emit(views)
        return
    if not rows:
        console.print("no deployments yet: `quantdesk promote STRATEGY --run RUN_ID --to paper`")
        return
    columns = [Col("name", 0), Col("stage", 0), Col("state", 0), Col("strategy", 1), Col("pnl", 1, "right"),
               Col("pending", 1), Col("symbols", 2), Col("tf", 2), Col("venue", 2), Col("capital", 3, "right"),
               Col("last bar", 3)]
    body = []
    for d in rows:
        waiting = pending.get(d.name)
        body.append([
            d.name, d.stage.value, d.state.value, d.strategy_name,
            signed_money(d.pnl, quote_currency(d.symbols[0]) if d.symbols else None),
            None if waiting is None else f"-> {waiting.to_stage.value} (by {waiting.requested_by})",
            ",".join(d.symbols), d.timeframe, d.venue, money(d.capital), d.last_bar_ts,
        ])
    print_table(console, columns, body, wide=wide)


def _parse_params(items: list[str]) -> dict[str, Any]:
    import json

    from quantdesk.core.errors import PromotionError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PromotionError(f"parameter {item!r} is not KEY=VALUE, e.g. --param fast=10")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@deployment_app.command("create")
@handle_errors
def deployment_create(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    strategy: Annotated[str, typer.Option("--strategy", help="Registered name or path/to/file.py:ClassName.")],
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated symbols, e.g. BTC/USDT,ETH/USDT.")],
    timeframe: Annotated[str, typer.Option("--timeframe", help="Bar timeframe, e.g. 1h.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE, repeatable.")] = None,
    venue: Annotated[str, typer.Option("--venue", help="Venue name.")] = "paper",
    account: Annotated[str, typer.Option("--account", help="Account at the venue.")] = "default",
    capital: Annotated[str, typer.Option("--capital", help="Quote capital.")] = "10000",
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", help="Lake exchange the candles live under (default: the one lake "
                     "exchange that holds every symbol, for a paper venue; else the venue's name)."),
    ] = None,
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Register a deployment at the research stage (it runs only after `quantdesk promote`).

    Example: quantdesk deployment create sma-btc --strategy sma_cross --symbols BTC/USDT --timeframe 1h --param fast=10
    """
    from quantdesk.identity.policy import Action
    from quantdesk.promotion import create_deployment

    with _open() as ledger:
        who = authorized_actor(ledger, actor, Action.CREATE_DEPLOYMENT, password_stdin=password_stdin)
        d = create_deployment(
            ledger, name, strategy=strategy, symbols=[s.strip() for s in symbols.split(",") if s.strip()],
            timeframe=timeframe, params=_parse_params(param or []), venue=venue, account=account,
            capital=capital, actor=who, exchange=exchange,
        )
    if json_output:
        emit(_deployment_view(d))
    else:
        console.print(f"deployment {d.name} created at stage research by {who}")


@deployment_app.command("show")
@handle_errors
def deployment_show(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    json_output: JsonOption = False,
) -> None:
    """Show a deployment and its promotion history (evidence, gates, decisions).

    Example: quantdesk deployment show sma-btc --json
    """
    from quantdesk.promotion import get_deployment, list_promotions

    with _open() as ledger:
        d = get_deployment(ledger, name)
        history = list_promotions(ledger, deployment=name)
    view = {**_deployment_view(d), "promotions": [_request_view(r) for r in history]}
    if json_output:
        emit(view)
        return
    for key, value in _deployment_view(d).items():
        console.print(f"{key:>20}: {value}", highlight=False)
    for r in history:
        console.print(f"promotion {r.id}: -> {r.to_stage.value} {r.status.value} by {r.requested_by}"
                      f"{' / ' + r.decided_by if r.decided_by else ''}", highlight=False)


@deployment_app.command("retire")
@handle_errors
def deployment_retire(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "",
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Retire a deployment: it can no longer run (a trader or admin, or a researcher).

    Example: quantdesk deployment retire sma-btc --reason "superseded" --as alice
    """
    from quantdesk.identity.policy import Action
    from quantdesk.promotion import retire_deployment

    with _open() as ledger:
        who = authorized_actor(ledger, actor, Action.RETIRE_DEPLOYMENT, password_stdin=password_stdin)
        d = retire_deployment(ledger, name, actor=who, reason=reason)
    if json_output:
        emit(_deployment_view(d))
    else:
        console.print(f"deployment {name} retired by {who}")
