"""`quantdesk audit ...` and `quantdesk db ...`: the ledger's audit chain and its schema."""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import ActAsOption, PasswordStdinOption
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table
from quantdesk.core.errors import LedgerError

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
db_app = typer.Typer(
    help="The ledger database: schema migrations and status.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


@audit_app.command("verify")
@handle_errors
def audit_verify(json: JsonOption = False) -> None:
    """Recompute the audit hash chain; exit 1 naming the first edited, deleted or reordered entry.

    Example: quantdesk audit verify --json
    """
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        result = ledger.verify_audit()
    if json:
        emit(result)
    elif result.ok:
        console.print(f"audit log ok: {result.checked} entries, head {result.head_hash or '-'}")
    if not result.ok:
        raise LedgerError(f"audit log broken at seq {result.first_bad_seq}: {result.reason}")


@audit_app.command("log")
@handle_errors
def audit_log(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show the newest N entries.")
    ] = 20,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only entries by this actor.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only entries of this action.")
    ] = None,
    as_user: ActAsOption = None,
    password_stdin: PasswordStdinOption = False,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Show the newest audit entries, oldest of them first (admins: it says who did what).

    Example: quantdesk audit log --limit 50 --actor operator
    """
    import json as jsonlib

    from rich.markup import escape

    from quantdesk.cli._auth import authorized_actor
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        authorized_actor(ledger, as_user, Action.VIEW_AUDIT, password_stdin=password_stdin)
        entries = ledger.audit_log(limit=limit, actor=actor, action=action)
    if json:
        emit(entries)
        return
    columns = [Col("seq", 0, "right"), Col("ts", 0), Col("actor", 0), Col("action", 0), Col("payload", 1, wrap_at=30),
               Col("hash", 2)]
    rows = [[str(e.seq), e.ts, escape(e.actor), escape(e.action),
             escape(jsonlib.dumps(e.payload, sort_keys=True)), e.hash[:12]] for e in entries]
    print_table(console, columns, rows, wide=wide)


@db_app.command("upgrade")
@handle_errors
def db_upgrade(json: JsonOption = False) -> None:
    """Migrate the ledger database (QUANTDESK_DB_URL, else QUANTDESK_HOME/quantdesk.db) to the newest schema.

    Example: quantdesk db upgrade
    """
    from quantdesk.ledger.engine import resolve_url, safe_url
    from quantdesk.ledger.migrate import current_revision, upgrade

    url = resolve_url(None)
    before = current_revision(url)
    after = upgrade(url)
    payload = {
        "url": safe_url(url),
        "from_revision": before,
        "revision": after,
        "changed": before != after,
    }
    if json:
        emit(payload)
    else:
        console.print(f"ledger at {payload['url']}: {before or 'empty'} -> {after}")


@db_app.command("status")
@handle_errors
def db_status(json: JsonOption = False) -> None:
    """Show the ledger database URL (password hidden), its schema revision and the code's.

    Example: quantdesk db status --json
    """
    from quantdesk.ledger.engine import resolve_url, safe_url
    from quantdesk.ledger.migrate import current_revision, head_revision

    url = resolve_url(None)
    current, head = current_revision(url), head_revision()
    payload = {
        "url": safe_url(url),
        "revision": current,
        "head": head,
        "up_to_date": current == head,
    }
    if json:
        emit(payload)
    else:
        state = "up to date" if current == head else "needs `quantdesk db upgrade`"
        console.print(
            f"ledger at {payload['url']}: revision {current or 'none'}, code {head} ({state})"
        )
