"""`quantdesk flows up|status|run|down`: the desk's scheduled operations on Prefect.

`up` starts a local Prefect server (home `$QUANTDESK_HOME/prefect/`, offline), the process
work pool `quantdesk`, a worker, and deploys `prefect.yaml`: ingest per venue and timeframe,
nightly research, the monitor, and `live` (one promoted deployment per run).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, err_console, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

flows_app = typer.Typer(help="Scheduled operations on Prefect: up, status, run, down.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")


@flows_app.command("up")
@handle_errors
def flows_up_command(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the local Prefect server.")] = 4200,
    host: Annotated[str, typer.Option("--host", help="Interface the local Prefect server listens on.")] = "127.0.0.1",
    paused: Annotated[bool, typer.Option("--paused", help="Deploy with every schedule paused (run them by hand).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Start (or reuse) the Prefect server, work pool, worker and deployments; print the URLs.

    Succeeds only once the server is healthy: its services started, none logged an error, and the
    scheduler queued runs of every scheduled deployment not paused; otherwise prints the first
    error of $QUANTDESK_HOME/prefect/server.log with the fix and exits non-zero.
    Idempotent: a second `up` reuses the server and worker that run and redeploys prefect.yaml.
    With PREFECT_API_URL set, uses that server (a desk's shared one) and starts only a worker.
    The first start takes about half a minute (the server creates its database).

    Example: quantdesk flows up && quantdesk flows status
    """
    import time

    from quantdesk.ops.prefect_ctl import flows_up

    began = time.perf_counter()
    if not json_output:
        err_console.print("starting Prefect (server, work pool, worker, deployments)...")
    state = flows_up(port=port, host=host, paused=paused)
    seconds = round(time.perf_counter() - began, 1)
    if json_output:
        emit({**state.to_json(), "seconds": seconds})
        return
    console.print(f"Prefect API  {state.api_url}\nPrefect UI   {state.ui_url}", highlight=False)
    console.print(f"work pool 'quantdesk', worker pid {state.worker_pid}"
                  + ("" if state.external else f", server pid {state.server_pid}")
                  + f"; deployments: {', '.join(state.deployments)} ({seconds} s)", highlight=False)


@flows_app.command("status")
@handle_errors
def flows_status_command(json_output: JsonOption = False, wide: WideOption = False) -> None:
    """Show every deployment: its flow, schedule, whether it is paused, its last run and its next scheduled run.

    The next run is the earliest run the scheduler has queued (UTC, and how far off); "-" when
    there is none: no schedule, or paused.

    Example: quantdesk flows status --json
    """
    from datetime import UTC, datetime

    from quantdesk.ops.prefect_ctl import flows_status

    status = flows_status()
    if json_output:
        emit({"api_url": status["api_url"], "ui_url": status["ui_url"],
              "deployments": [{**d, "last_run": None if d["last_run"] is None else
                               {k: d["last_run"][k] for k in ("state", "start", "end", "message", "flow_run_id")}}
                              for d in status["deployments"]]})
        return
    console.print(f"Prefect UI {status['ui_url']}", highlight=False)
    columns = [Col("deployment", 0), Col("flow", 1), Col("schedule", 1), Col("paused", 2),
               Col("next run", 0), Col("last run", 0), Col("ended", 1), Col("message", 3)]
    now = datetime.now(UTC)
    rows = []
    for d in status["deployments"]:
        last = d["last_run"] or {}
        rows.append([d["name"], d["flow"], d["schedule"] or "-", "yes" if d["paused"] else "no",
                     _when(d["next_run"], now), last.get("state") or "never", (last.get("end") or "")[:19],
                     (last.get("message") or "")[:80]])
    print_table(console, columns, rows, wide=wide)


def _when(iso: str | None, now: Any) -> str:
    """`2026-12-07 19:31 UTC (in 4 min)`: when a scheduled run is due, readable at a glance."""
    from datetime import UTC, datetime

    if not iso:
        return "-"
    at = datetime.fromisoformat(iso).astimezone(UTC)
    seconds = int((at - now).total_seconds())
    if seconds < 0:
        due = "due now"
    elif seconds < 90:
        due = f"in {seconds} s"
    elif seconds < 90 * 60:
        due = f"in {round(seconds / 60)} min"
    elif seconds < 36 * 3600:
        due = f"in {round(seconds / 3600)} h"
    else:
        due = f"in {round(seconds / 86400)} d"
    return f"{at:%Y-%m-%d %H:%M:%S} UTC ({due})"


@flows_app.command("run")
@handle_errors
def flows_run_command(
    name: Annotated[str, typer.Argument(help="Deployment name (see `quantdesk flows status`), or flow/deployment.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Parameter key=value (JSON values "
                                                    "allowed: symbols='[\"BTC/USDT\"]'); repeatable.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Return when the run ends; exit non-zero unless it completed.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", min=1, help="With --wait: give up after this many seconds.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Trigger a deployment now; with --wait, wait for its final state.

    Examples:
      quantdesk flows run research-nightly --wait
      quantdesk flows run live --param deployment=sma-btc
      quantdesk flows run ingest-binance-1m --param symbols='["BTC/USDT"]' --param since=2024-06-01 --wait
    """
    from quantdesk.ops.prefect_ctl import parse_param, run_flow

    params = dict(parse_param(p) for p in param or [])
    result = run_flow(name, params, wait=wait, timeout_s=timeout)
    if json_output:
        emit(result)
    else:
        console.print(f"{result['deployment']}: flow run {result['name']} ({result['flow_run_id']}) "
                      f"{result['state']}{': ' + result['message'] if result['message'] else ''}\n{result['ui_url']}",
                      highlight=False)
    if wait and result["state"] != "COMPLETED":
        raise typer.Exit(1)


@flows_app.command("down")
@handle_errors
def flows_down_command(json_output: JsonOption = False) -> None:
    """Stop the worker and the local server that `flows up` started, and nothing else.

    Example: quantdesk flows down
    """
    from quantdesk.ops.prefect_ctl import flows_down

    result = flows_down()
    if json_output:
        emit(result)
    elif result["stopped"]:
        console.print(f"stopped {', '.join(result['stopped'])}", highlight=False)
    else:
        console.print(result.get("detail") or "nothing was running", highlight=False)
