"""`quantdesk notify history|drain|test`: the notification center in the terminal.

Every event people should hear about (halts and resumes from any entry point, denials, fills,
promotion decisions, refused logins) is stored in the ledger's outbox with the event itself;
channels are the apprise URLs of `[notify] urls` in quantdesk.toml.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

notify_app = typer.Typer(help="Notifications: history with delivery status, delivery, test messages.",
                         no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("history")
@handle_errors
def notify_history(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest messages to show.")] = 50,
    event: Annotated[str | None, typer.Option("--event", help="Only this event type, e.g. halt, denial, fill.")] = None,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Show messages with their delivery status (pending, sent, digested, failed, skipped).

    Example: quantdesk notify history --event halt --json
    """
    from quantdesk.ledger import Ledger
    from quantdesk.ledger.outbox import LedgerOutbox

    with Ledger() as ledger:
        rows = LedgerOutbox(ledger).history(limit, event)
    if json_output:
        emit({"messages": rows})
        return
    if not rows:
        console.print("no notifications yet")
        return
    columns = [Col("id", 0, "right"), Col("created", 0), Col("event", 0), Col("status", 0), Col("level", 1),
               Col("attempts", 2, "right"), Col("error", 2, wrap_at=30)]
    print_table(console, columns, [[str(r.id), r.created_at.isoformat(timespec="seconds"), r.event_type, r.status,
                                    r.level, str(r.attempts), r.last_error or ""] for r in rows], wide=wide)


@notify_app.command("drain")
@handle_errors
def notify_drain(json_output: JsonOption = False) -> None:
    """Deliver every due message now (what a crashed or exited process left behind, and retries).

    Example: quantdesk notify drain
    """
    from quantdesk.core.clock import SystemClock
    from quantdesk.core.settings import get_settings
    from quantdesk.ledger import Ledger
    from quantdesk.ledger.outbox import LedgerOutbox
    from quantdesk.notify import Notifier
    from quantdesk.notify.delivery import drain_outbox

    settings = get_settings()
    with Ledger() as ledger:
        report = drain_outbox(LedgerOutbox(ledger), Notifier.from_settings(settings), now=SystemClock().now(),
                              templates=(settings.notify or {}).get("templates") or {})
    if json_output:
        emit(report)
    else:
        console.print(f"sent {report.sent} (carrying {report.digested} more in digests), retrying {report.retrying}, "
                      f"failed {report.failed}, skipped {report.skipped}")


@notify_app.command("test")
@handle_errors
def notify_test() -> None:
    """Send a test message to every configured channel now; exit 1 if one refused it.

    Example: quantdesk notify test
    """
    from quantdesk.core.settings import get_settings
    from quantdesk.notify import Notification, NotificationLevel, Notifier
    from quantdesk.notify.templates import render

    notifier = Notifier.from_settings(get_settings())
    if not notifier.enabled:
        console.print("no channel configured: add apprise URLs to [notify] urls in quantdesk.toml")
        raise typer.Exit(1)
    title, body = render("test", {})
    ok = notifier.send(Notification(level=NotificationLevel.INFO, title=title, body=body))
    console.print(f"{'delivered to' if ok else 'NOT delivered to every one of'} {', '.join(notifier.channels)}")
    if not ok:
        raise typer.Exit(1)
