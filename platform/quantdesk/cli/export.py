"""`quantdesk export KIND -o PATH`: ledger and run tables as CSV, Excel or Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import ActAsOption, PasswordStdinOption
from quantdesk.cli._common import JsonOption, console, emit, handle_errors


@app.command("export")
@handle_errors
def export_command(
    kind: Annotated[str, typer.Argument(help="runs, trades, orders, fills, positions, equity, risk-events or audit.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (format from its suffix unless --format).")],
    run: Annotated[str | None, typer.Option("--run", help="Stored run id (trades, equity).")] = None,
    deployment: Annotated[str | None, typer.Option("--deployment", help="Only this deployment (orders, fills, risk-events).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this time (ISO date/time, UTC), inclusive.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to this time, exclusive.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, xlsx or parquet (default: from the file suffix).")] = None,
    actor: ActAsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Export a table for stakeholders: Excel with real dates and numbers, CSV, or exact Parquet.

    Example: quantdesk export fills --deployment btc-sma --since 2024-01-01 -o fills.xlsx
    """
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.core.timeframes import check_window
    from quantdesk.identity.policy import Action, authorize
    from quantdesk.ledger import Ledger
    from quantdesk.reports import export_frame, write_export

    first, last = check_window(since, until, names=("--since", "--until"))
    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.EXPORT, password_stdin=password_stdin)
        if kind == "audit":  # who did what is for admins, in a file or on the screen
            authorize(ledger, who, Action.VIEW_AUDIT, via="cli")
        frame = export_frame(kind, ledger=ledger, run_id=run, deployment=deployment, since=first, until=last)
    path = write_export(frame, output, fmt, sheet=kind)
    if json_output:
        emit({"kind": kind, "path": str(path), "rows": frame.height, "columns": frame.columns})
    else:
        console.print(f"wrote {frame.height} {kind} rows to {path}")


@app.command("desk-report")
@handle_errors
def desk_report_command(
    period: Annotated[str, typer.Option("--period", help="daily (the last 24 h) or weekly (the last 7 days).")] = "daily",
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the report to PDF (needs Chromium).")] = True,
    actor: ActAsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write the desk report: PnL by deployment, exposure, risk events, drift and data health.

    A papermill notebook rendered to HTML (and PDF) under $QUANTDESK_HOME/reports/desk/; its
    summary goes out as a notification (daily_pnl / weekly_report). The monitor flow writes the
    daily one once a day and the weekly one on Mondays.
    Example: quantdesk desk-report --period weekly
    """
    from quantdesk.cli._auth import authorized_actor
    from quantdesk.cli._notify import deliver_pending
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger
    from quantdesk.reports.desk import write_desk_report

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.EXPORT, password_stdin=password_stdin)
        report = write_desk_report(ledger, period=period, pdf=pdf, actor=who)
    deliver_pending()
    if json_output:
        emit({"period": report.period, "start": report.start, "end": report.end, "html": report.html,
              "pdf": report.pdf, "snapshot": report.snapshot, "summary": report.summary})
    else:
        console.print(f"{period} desk report: {report.pdf or report.html} (cash flow "
                      f"{report.summary['total_cash_flow']:,.2f}, {report.summary['fills']} fills)", highlight=False)
