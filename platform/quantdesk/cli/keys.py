"""`quantdesk keys set|list|rotate-master`: exchange API keys encrypted at rest.

Keys are read from a hidden prompt or from stdin (`--stdin`: the key on the first line, the
secret on the second), stored as Fernet tokens under the installation's master key, and
decrypted only inside the process that talks to the venue. Nothing here ever prints a key:
`list` shows venue, account and a fingerprint.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import PasswordStdinOption, authorized_actor, read_secret_line
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

keys_app = typer.Typer(help="Exchange API keys, encrypted at rest with the installation's master key.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

AsOption = Annotated[str | None, typer.Option("--as", help="Act as this user (needs their password).")]


@keys_app.command("set")
@handle_errors
def keys_set(
    venue: Annotated[str, typer.Argument(help="Venue name (see `quantdesk venue list`).")],
    account: Annotated[str, typer.Option("--account", help="Account at the venue.")] = "default",
    stdin: Annotated[bool, typer.Option("--stdin", help="Read your password, then the key, then the secret from stdin, one per line.")] = False,
    actor: AsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Store a venue account's API key and secret, encrypted (a trader or admin, with their password).

    A venue whose `key_env` is unset then trades with these keys.
    Example: quantdesk keys set binance-main --account default
    """
    from quantdesk.identity.keys import set_exchange_key
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.MANAGE_KEYS, password_stdin=stdin)
        api_key = read_secret_line(f"API key for {venue}/{account}", from_stdin=stdin)
        api_secret = read_secret_line(f"API secret for {venue}/{account}", from_stdin=stdin)
        info = set_exchange_key(ledger, venue, api_key, api_secret, actor=who, account=account)
    if json_output:
        emit(info)
    else:
        console.print(f"stored the key of {venue}/{account} encrypted (fingerprint {info.key_fingerprint})")


@keys_app.command("list")
@handle_errors
def keys_list(json_output: JsonOption = False, wide: WideOption = False) -> None:
    """List stored keys: venue, account, fingerprint, who set them and when (never a key).

    Example: quantdesk keys list --json
    """
    from quantdesk.identity.keys import list_exchange_keys
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        infos = list_exchange_keys(ledger)
    if json_output:
        emit(infos)
        return
    if not infos:
        console.print("no exchange keys stored; add one with `quantdesk keys set VENUE`")
        return
    columns = [Col("venue", 0), Col("account", 0), Col("fingerprint", 0), Col("set by", 1), Col("updated", 2)]
    print_table(console, columns, [[k.venue, k.account, k.key_fingerprint, k.set_by,
                                    k.updated_at] for k in infos], wide=wide)


@keys_app.command("rotate-master")
@handle_errors
def keys_rotate_master(
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    new_key_stdin: Annotated[bool, typer.Option("--new-key-stdin", help="With QUANTDESK_MASTER_KEY set: read the new master key from stdin (after your password).")] = False,
) -> None:
    """Re-encrypt every stored key under a new master key (an admin, with their password).

    With the key file ($QUANTDESK_HOME/master.key) the new key is generated and replaces it; an
    interrupted rotation loses nothing and the next run finishes it.
    Example: quantdesk keys rotate-master
    """
    from quantdesk.identity.keys import rotate_master_key
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.ROTATE_MASTER_KEY, password_stdin=password_stdin)
        new_key = read_secret_line("new master key", from_stdin=True).encode() if new_key_stdin else None
        fingerprint = rotate_master_key(ledger, actor=who, new_key=new_key)
    console.print(f"every stored key is now encrypted under master key {fingerprint}")
