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
    print_table(console, columns, [[str(r.id), r.created_at, r.event_type, r.status,
                                    r.level, r.attempts, r.last_error] for r in rows], wide=wide)


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
    from quantdesk.live.notifications import desk_notifier, desk_router
    from quantdesk.notify.delivery import drain_outbox

    settings = get_settings()
    with Ledger() as ledger:
        report = drain_outbox(LedgerOutbox(ledger), desk_notifier(ledger, settings), now=SystemClock().now(),
                              route=desk_router(ledger, settings),
                              templates=(settings.notify or {}).get("templates") or {})
    if json_output:
        emit(report)
    else:
        console.print(f"sent {report.sent} (carrying {report.digested} more in digests), retrying {report.retrying}, "
                      f"failed {report.failed}, skipped {report.skipped}")


@notify_app.command("test")
@handle_errors
def notify_test(
    actor: Annotated[str | None, typer.Option("--as", help="Act as this user (needs their password).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the acting user's password from stdin.")] = False,
) -> None:
    """Send a test message to every configured channel now (a trader or admin); exit 1 if one refused it.

    Example: quantdesk notify test
    """
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger
    from quantdesk.live.notifications import desk_notifier
    from quantdesk.notify import Notification, NotificationLevel
    from quantdesk.notify.templates import render

    with Ledger() as ledger:
        authorized_actor(ledger, actor, Action.SEND_TEST_NOTIFICATION, password_stdin=password_stdin)
        notifier = desk_notifier(ledger)
    if not notifier.enabled:
        console.print("no channel configured: `quantdesk notify channel add NAME` or [notify] urls in quantdesk.toml")
        raise typer.Exit(1)
    title, body = render("test", {})
    ok = notifier.send(Notification(level=NotificationLevel.INFO, title=title, body=body))
    console.print(f"{'delivered to' if ok else 'NOT delivered to every one of'} {', '.join(notifier.channels)}")
    if not ok:
        raise typer.Exit(1)


channel_app = typer.Typer(help="Named channels; their apprise URLs (tokens, passwords) are stored encrypted.",
                          no_args_is_help=True)
notify_app.add_typer(channel_app, name="channel")


@channel_app.command("add")
@handle_errors
def channel_add(
    name: Annotated[str, typer.Argument(help="Channel name, e.g. desk-telegram.")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read your password, then the apprise URL, from stdin.")] = False,
    actor: Annotated[str | None, typer.Option("--as", help="Act as this admin (needs their password).")] = None,
) -> None:
    """Store a channel (an admin): the URL is asked for hidden and kept encrypted; only its scheme is shown.

    Example: quantdesk notify channel add desk-telegram   (then paste tgram://BOT_TOKEN/CHAT_ID)
    """
    from quantdesk.cli._auth import authorized_actor, read_secret_line
    from quantdesk.identity.channels import add_channel
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.MANAGE_CHANNELS, password_stdin=stdin)
        url = read_secret_line(f"apprise URL for {name}", from_stdin=stdin)
        info = add_channel(ledger, name, url, actor=who)
    console.print(f"channel {info.name} ({info.redacted}, fingerprint {info.url_fingerprint}) stored encrypted")


@channel_app.command("list")
@handle_errors
def channel_list(json_output: JsonOption = False) -> None:
    """List stored channels: name, scheme://*** and fingerprint (never a token).

    Example: quantdesk notify channel list --json
    """
    from quantdesk.identity.channels import list_channels
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        channels = list_channels(ledger)
    if json_output:
        emit({"channels": channels})
        return
    for c in channels:
        console.print(f"{c.name}\t{c.redacted}\t{c.url_fingerprint}\t(added by {c.created_by})", highlight=False)
    if not channels:
        console.print("no stored channels; add one with `quantdesk notify channel add NAME`")


@channel_app.command("remove")
@handle_errors
def channel_remove(
    name: Annotated[str, typer.Argument(help="Channel to remove.")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read your password from stdin.")] = False,
    actor: Annotated[str | None, typer.Option("--as", help="Act as this admin (needs their password).")] = None,
) -> None:
    """Remove a stored channel (an admin).

    Example: quantdesk notify channel remove desk-telegram
    """
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.identity.channels import delete_channel
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.MANAGE_CHANNELS, password_stdin=stdin)
        delete_channel(ledger, name, actor=who)
    console.print(f"channel {name} removed")


@notify_app.command("subscribe")
@handle_errors
def notify_subscribe(
    user: Annotated[str, typer.Argument(help="Who subscribes (yourself, or anyone as an admin).")],
    channel: Annotated[str, typer.Option("--channel", help="A stored channel (see `notify channel list`).")],
    event: Annotated[str, typer.Option("--event", help="Event type (halt, resume, denial, fill, promotion_requested, ...) or * for all.")] = "*",
    min_level: Annotated[str, typer.Option("--min-level", help="info, warning or error.")] = "info",
    actor: Annotated[str | None, typer.Option("--as", help="Act as this user (needs their password).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the acting user's password from stdin.")] = False,
) -> None:
    """Subscribe a user to an event type at a minimum level on a stored channel.

    A channel with no subscriptions receives every event; with subscriptions, only what they ask for.
    Example: quantdesk notify subscribe carol --channel desk-telegram --event halt --min-level warning
    """
    from quantdesk.cli._auth import authorized_actor, default_identity
    from quantdesk.identity.channels import subscribe
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        # your own subscription needs an active account; someone else's is channel administration (password)
        action = Action.VIEW if user == (actor or default_identity()) else Action.MANAGE_CHANNELS
        who = authorized_actor(ledger, actor, action, password_stdin=password_stdin)
        subscribe(ledger, user, channel, event_type=event, min_level=min_level, actor=who)
    console.print(f"{user} gets {event} events at {min_level} or above on {channel}")


@notify_app.command("subscriptions")
@handle_errors
def notify_subscriptions(json_output: JsonOption = False) -> None:
    """List subscriptions: user, channel, event type, minimum level.

    Example: quantdesk notify subscriptions --json
    """
    from quantdesk.identity.channels import subscriptions
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        rows = subscriptions(ledger)
    if json_output:
        emit({"subscriptions": rows})
        return
    for r in rows:
        console.print(f"{r['user']}\t{r['channel']}\t{r['event_type']}\t>= {r['min_level']}", highlight=False)
    if not rows:
        console.print("no subscriptions: stored channels receive every event")
