"""`quantdesk api serve` and `quantdesk api token create|list|revoke`: the desk's HTTP API and its tokens.

Tokens are an admin's to give (`create or revoke API tokens`: admins, with their password);
a token is printed once, and only its hash and prefix are stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import PasswordStdinOption
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

api_app = typer.Typer(help="The HTTP API: serve it, and manage its tokens.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (printed once), list, revoke.", no_args_is_help=True)
api_app.add_typer(token_app, name="token")
app.add_typer(api_app, name="api")

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this admin (needs their password; default: QUANTDESK_USER, else the OS login)."),
]


def _admin(ledger: Any, actor: str | None, password_stdin: bool) -> str:
    """Return the acting admin once allowed by the policy (audited refusal) and proven (password)."""
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.identity.policy import Action

    return authorized_actor(ledger, actor, Action.MANAGE_API_TOKENS, password_stdin=password_stdin)


def _view(token: Any, now: Any) -> dict[str, Any]:
    return {"prefix": token.prefix, "user": token.user, "scope": token.scope.value, "state": token.state(now),
            "expires_at": token.expires_at, "last_used_at": token.last_used_at, "created_by": token.created_by,
            "created_at": token.created_at, "revoked_at": token.revoked_at}


@api_app.command("serve")
@handle_errors
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn): /v1/..., /openapi.json, /docs (works offline).

    Limits come from [api] in quantdesk.toml: token_rate_per_s, token_burst, address_rate_per_s,
    address_burst, max_body_bytes, idempotency_hours.
    Example: quantdesk api serve --port 8080
    """
    from quantdesk.api import ApiConfig, serve

    ApiConfig.from_settings()  # a bad [api] key fails here, in one line, before the server starts
    console.print(f"quantdesk API on http://{host}:{port} (docs: http://{host}:{port}/docs)", highlight=False)
    serve(host=host, port=port)


@token_app.command("create")
@handle_errors
def token_create(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as (never beyond their role).")],
    scope: Annotated[str, typer.Option("--scope", help="read, trade or admin: the most the token may do.")],
    expires: Annotated[str, typer.Option("--expires", help="Lifetime: 30d, 12h, 90m, 2w, or never.")] = "90d",
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Create an API token and print it once (only its hash and prefix are stored). Admins only.

    Example: quantdesk api token create --user carol --scope read --expires 30d
    """
    from quantdesk.identity.tokens import create_token
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = _admin(ledger, actor, password_stdin)
        token, info = create_token(ledger, user=user, scope=scope, expires=expires, actor=who)
        view = {**_view(info, ledger._now()), "token": token}
    if json_output:
        emit(view)
        return
    typer.echo(token)  # alone on stdout: `TOKEN=$(quantdesk api token create ...)`
    until = "never expires" if info.expires_at is None else f"expires {info.expires_at:%Y-%m-%d %H:%M} UTC"
    typer.echo(f"token {info.prefix} for {info.user}, scope {info.scope.value}, {until}; it is shown only now",
               err=True)


@token_app.command("list")
@handle_errors
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List API tokens: prefix, user, scope, state, expiry, last use (never a token). Admins only.

    Example: quantdesk api token list --json
    """
    from quantdesk.identity.tokens import list_tokens
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        _admin(ledger, actor, password_stdin)
        now = ledger._now()
        views = [_view(t, now) for t in list_tokens(ledger, user=user)]
    if json_output:
        emit({"tokens": views})
        return
    if not views:
        console.print("no API tokens yet: `quantdesk api token create --user NAME --scope read`")
        return

    def when(ts: Any) -> str:
        return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M")

    columns = [Col("prefix", 0), Col("user", 0), Col("scope", 0), Col("state", 0), Col("expires", 1),
               Col("last use", 1), Col("created by", 2), Col("created", 3)]
    print_table(console, columns, [[v["prefix"], v["user"], v["scope"], v["state"], when(v["expires_at"]) or "never",
                                    when(v["last_used_at"]) or "never", v["created_by"], when(v["created_at"])]
                                   for v in views], wide=wide)


@token_app.command("revoke")
@handle_errors
def token_revoke(
    prefix: Annotated[str, typer.Argument(help="The token's prefix (qdt_XXXXXXXX), from `quantdesk api token list`.")],
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Revoke an API token: its next request is refused (401). Admins only; audited.

    Example: quantdesk api token revoke qdt_a1B2c3D4
    """
    from quantdesk.identity.tokens import revoke_token
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = _admin(ledger, actor, password_stdin)
        info = revoke_token(ledger, prefix, actor=who)
        view = _view(info, ledger._now())
    if json_output:
        emit(view)
    else:
        console.print(f"token {info.prefix} of {info.user} revoked by {who}", highlight=False)
