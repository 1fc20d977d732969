"""`quantdesk venue ...`: named venues in quantdesk.toml (add, list) and the simulated venue (serve)."""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

venue_app = typer.Typer(
    help="Named venues (a ccxt exchange, optional API URL override, credentials from env vars).",
    no_args_is_help=True,
)
app.add_typer(venue_app, name="venue")


@venue_app.command("add")
@handle_errors
def venue_add(
    name: Annotated[
        str,
        typer.Argument(
            help="Venue name, used with --exchange elsewhere and as the lake's exchange."
        ),
    ],
    exchange: Annotated[
        str, typer.Option("--exchange", help="ccxt exchange id, e.g. binance, okx, gate, bybit.")
    ],
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", help="Base URL replacing the exchange's API host (simulated venue, proxy)."
        ),
    ] = None,
    ws_url: Annotated[
        str | None,
        typer.Option("--ws-url", help="Base URL of the WebSocket streams (the simulated venue prints it)."),
    ] = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Use the exchange's sandbox/testnet.")
    ] = False,
    key_env: Annotated[
        str | None, typer.Option("--key-env", help="Environment variable holding the API key.")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option("--secret-env", help="Environment variable holding the API secret."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add or replace a named venue in quantdesk.toml (keys are read from env vars, never stored).

    Example: quantdesk venue add sim --exchange binance --api-url http://127.0.0.1:8899 --ws-url ws://127.0.0.1:8900/stream
    """
    import re

    from quantdesk.core.config_file import update_config
    from quantdesk.core.errors import ConfigError
    from quantdesk.core.settings import config_path
    from quantdesk.ingest.exchange import check_exchange_id

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(
            f"venue name {name!r} may only hold letters, digits, '_' and '-'; pick another"
        )
    check_exchange_id(exchange)
    if (key_env is None) != (secret_env is None):
        raise ConfigError("pass both --key-env and --secret-env (or neither)")
    for var in (key_env, secret_env):
        if var is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise ConfigError(
                f"{var!r} is not an environment variable name; pass the variable's NAME, not the key"
            )
    if api_url is not None and not re.match(r"^https?://[^/]+", api_url):
        raise ConfigError(
            f"--api-url {api_url!r} must start with http:// or https://, e.g. http://127.0.0.1:8900"
        )
    if ws_url is not None and not re.match(r"^wss?://[^/]+", ws_url):
        raise ConfigError(
            f"--ws-url {ws_url!r} must start with ws:// or wss://, e.g. ws://127.0.0.1:8900/stream"
        )
    entry = {
        "exchange": exchange,
        "api_url": api_url,
        "ws_url": ws_url,
        "sandbox": sandbox,
        "key_env": key_env,
        "secret_env": secret_env,
    }
    path = config_path()
    update_config(path, "venues", name, entry)
    if json_output:
        emit(
            {"name": name, "config": str(path), **{k: v for k, v in entry.items() if v is not None}}
        )
    else:
        console.print(f"venue [bold]{name}[/] ({exchange}) saved in {path}", highlight=False)


@venue_app.command("list")
@handle_errors
def venue_list(json_output: JsonOption = False, wide: WideOption = False) -> None:
    """List the venues defined in quantdesk.toml.

    Example: quantdesk venue list --json
    """

    from quantdesk.core.settings import config_path, get_settings

    venues = get_settings().venues
    rows = [
        {
            "name": name,
            "exchange": v.exchange,
            "api_url": v.api_url,
            "ws_url": v.ws_url,
            "sandbox": v.sandbox,
            "key_env": v.key_env,
            "secret_env": v.secret_env,
        }
        for name, v in sorted(venues.items())
    ]
    if json_output:
        emit({"config": str(config_path()), "venues": rows})
        return
    if not rows:
        console.print(
            f"no venues in {config_path()}; add one with `quantdesk venue add`", highlight=False
        )
        return
    columns = [Col("name", 0), Col("exchange", 0), Col("api_url", 1), Col("ws_url", 2), Col("sandbox", 2),
               Col("key_env", 1), Col("secret_env", 1)]
    print_table(console, columns, [[("" if v is None else str(v)) for v in row.values()] for row in rows], wide=wide)
