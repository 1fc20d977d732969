"""Run the desk's Prefect: a local server, the `quantdesk` process work pool, a worker, the deployments.

`flows_up` starts what is missing and reuses what runs: a Prefect server whose home is
`$QUANTDESK_HOME/prefect/` (its own SQLite database, analytics off, nothing phoning home),
the work pool, one process worker, the global concurrency limits per venue, and the
deployments of `prefect.yaml` (through `prefect deploy --all`). With `PREFECT_API_URL` set it
uses that server (a desk's shared one) and starts only a worker. What `up` started is
recorded in `$QUANTDESK_HOME/prefect/flows.json`; `flows_down` stops exactly that.

`up` returns only once the server is healthy, because `/health` alone says nothing about the
services that run the desk unattended: the server's log says its services started and holds
no error (`quantdesk.ops.prefect_health`), and the scheduler has queued runs of every active
scheduled deployment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.core.errors import ConfigError, QuantdeskError
from quantdesk.ops.prefect_health import (
    first_error,
    read_log,
    server_logging_config,
    services_started,
)
from quantdesk.ops.prefect_schedules import (
    apply_monitor_interval,
    monitor_interval_s,
    scheduled_runs,
    sweep_paused_runs,
)

__all__ = ["FlowsError", "FlowsState", "ensure_limit", "flows_down", "flows_status", "flows_up", "monitor_interval_s",
           "run_flow"]

POOL = "quantdesk"
MONITOR = "monitor"  # the deployment whose interval `[flows] monitor_interval_s` overrides
REPO = Path(__file__).resolve().parents[3]
_STATE = "flows.json"
_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class FlowsError(QuantdeskError):
    """The Prefect side of the desk is not reachable or refused a request."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowsState:
    """What `flows up` runs: where the API is and the processes it started (pids, None when not ours)."""

    api_url: str
    ui_url: str
    server_pid: int | None = None
    worker_pid: int | None = None
    external: bool = False
    deployments: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"api_url": self.api_url, "ui_url": self.ui_url, "server_pid": self.server_pid,
                "worker_pid": self.worker_pid, "external": self.external, "deployments": list(self.deployments)}


def prefect_home() -> Path:
    from quantdesk.core.settings import get_settings

    return get_settings().home.resolve() / "prefect"


def _state_path() -> Path:
    return prefect_home() / _STATE


def _read_state() -> FlowsState | None:
    path = _state_path()
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return FlowsState(api_url=raw["api_url"], ui_url=raw["ui_url"], server_pid=raw.get("server_pid"),
                      worker_pid=raw.get("worker_pid"), external=raw.get("external", False),
                      deployments=tuple(raw.get("deployments", ())))


def _write_state(state: FlowsState) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2))
    tmp.replace(path)


def prefect_env(api_url: str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of every Prefect process `up` starts: offline, quiet, homed under QUANTDESK_HOME."""
    from quantdesk.core.settings import get_settings

    env = dict(os.environ if base is None else base)
    home = prefect_home()
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_LOGGING_LEVEL": env.get("PREFECT_LOGGING_LEVEL", "INFO"),
        # a local worker asks its pool every 2 s (Prefect's default is 10 s): a triggered run starts promptly
        "PREFECT_WORKER_QUERY_SECONDS": env.get("PREFECT_WORKER_QUERY_SECONDS", "2"),
        # the runs must see the same installation as the CLI that started them
        "QUANTDESK_HOME": str(get_settings().home.resolve()),
        "QUANTDESK_REPO": str(REPO),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    })
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextmanager
def prefect_client(api_url: str) -> Iterator[Any]:
    """A synchronous Prefect client for `api_url`, whatever this process's Prefect settings say."""
    from prefect.client.orchestration import get_client
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_SERVER_ANALYTICS_ENABLED: False}), \
            get_client(sync_client=True) as client:
        yield client


def _healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:  # noqa: S310 - our own URL
            return r.status == 200
    except OSError:
        return False


def _alive(pid: int | None, needle: str = "prefect") -> bool:
    """True when `pid` runs and is a Prefect process (a recycled pid is not ours)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ProcessLookupError):
        return False
    return needle in cmdline


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _prefect_exe() -> str:
    exe = Path(sys.executable).with_name("prefect")
    return str(exe) if exe.exists() else "prefect"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=str(REPO), start_new_session=True)  # its own group: `down` stops it whole
    return process.pid


def _wait_healthy(api_url: str, pid: int | None, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _healthy(api_url):
            return
        if pid is not None and not _alive(pid, ""):
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise FlowsError(f"the Prefect server exited while starting; its log ({log}) ends with:\n{tail}")
        time.sleep(0.5)
    raise FlowsError(f"the Prefect server at {api_url} did not answer within {timeout_s:.0f} s; see {log}")


def _ensure_pool(client: Any) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        client.read_work_pool(POOL)
    except ObjectNotFound:
        with suppress(ObjectAlreadyExists):  # another `up` created it meanwhile
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))


def ensure_limit(client: Any, name: str, limit: int) -> None:
    """Create the global concurrency limit `name` with `limit` slots unless it exists."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        with suppress(ObjectAlreadyExists):
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))


def _ensure_limits(client: Any, venues: list[str], limit: int) -> None:
    for venue in venues:
        ensure_limit(client, f"venue-{venue}", limit)


def _deploy(api_url: str, env: dict[str, str], log: Path) -> None:
    done = subprocess.run([_prefect_exe(), "--no-prompt", "deploy", "--all"], env=env, cwd=str(REPO),
                          capture_output=True, text=True, timeout=600, check=False)
    with open(log, "a") as out:
        out.write(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise FlowsError("`prefect deploy --all` failed:\n" + "\n".join(tail))


def _ui_url(api_url: str) -> str:
    return api_url.removesuffix("/").removesuffix("/api")


def flows_up(*, port: int = 4200, host: str = "127.0.0.1", paused: bool = False,
             timeout_s: float = 180.0) -> FlowsState:
    """Start (or reuse) server, pool, worker and deployments; return what runs. See the module doc."""
    from quantdesk.core.settings import get_settings

    settings = get_settings()
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    previous = _read_state()
    external_url = os.environ.get("PREFECT_API_URL")
    log = home / "server.log"
    log_offset = log.stat().st_size if log.exists() else 0  # what this `up` reads of the log starts here
    server_pid: int | None = None
    if external_url:
        api_url = external_url.rstrip("/")
        if not _healthy(api_url, timeout=10):
            raise FlowsError(f"PREFECT_API_URL={api_url} does not answer /health; start that server or unset "
                             "PREFECT_API_URL to run a local one")
    elif previous and not previous.external and _alive(previous.server_pid) and _healthy(previous.api_url):
        api_url, server_pid = previous.api_url, previous.server_pid
    else:
        if not _port_free(host, port):
            raise FlowsError(f"port {port} on {host} is in use by something else; pass --port with a free port")
        api_url = f"http://{host}:{port}/api"
        env = prefect_env(None)
        env.update({"PREFECT_SERVER_API_HOST": host, "PREFECT_SERVER_API_PORT": str(port),
                    "PREFECT_UI_API_URL": api_url})
        env["PREFECT_LOGGING_SETTINGS_PATH"] = str(server_logging_config(home))
        # the server is Prefect's service, not a quantdesk process: it must not record its own
        # prometheus_client metrics into the desk's multiprocess directory (the CLI exports the
        # variable for its children; the server crashed at import when the folder was not there yet)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        server_pid = _spawn([_prefect_exe(), "server", "start", "--host", host, "--port", str(port)], env, log)
        _write_state(FlowsState(api_url=api_url, ui_url=_ui_url(api_url), server_pid=server_pid))
        _wait_healthy(api_url, server_pid, log, timeout_s)
        _wait_services(log, log_offset, timeout_s)
    env = prefect_env(api_url)
    with prefect_client(api_url) as client:
        _ensure_pool(client)
        venues = sorted(set(settings.venues) | {"binance"})
        _ensure_limits(client, venues, int((settings.flows or {}).get("venue_concurrency", 1)))
    worker_pid = previous.worker_pid if previous and _alive(previous.worker_pid) else None
    if worker_pid is None:
        worker_pid = _spawn([_prefect_exe(), "worker", "start", "--pool", POOL, "--type", "process",
                             "--name", f"quantdesk-{socket.gethostname()}-{os.getpid()}"], env,
                            home / "worker.log")
    state = FlowsState(api_url=api_url, ui_url=_ui_url(api_url), server_pid=server_pid, worker_pid=worker_pid,
                       external=bool(external_url))
    _write_state(state)
    _deploy(api_url, env, home / "deploy.log")
    with prefect_client(api_url) as client:
        names = []
        for d in client.read_deployments():
            names.append(d.name)
            if d.name == MONITOR:
                apply_monitor_interval(client, d, monitor_interval_s(settings.flows))
            if paused and not d.paused:
                client.pause_deployment(d.id)
        if paused:
            sweep_paused_runs(client)
        # the scheduler is what runs the desk unattended: `up` succeeds only once it has scheduled runs
        _wait_scheduled(client, None if external_url else log, log_offset, timeout_s)
    if not external_url:
        _raise_on_log_error(log, log_offset)
    state = FlowsState(api_url=api_url, ui_url=state.ui_url, server_pid=server_pid, worker_pid=worker_pid,
                       external=state.external, deployments=tuple(sorted(names)))
    _write_state(state)
    return state


def _wait_services(log: Path, offset: int, timeout_s: float) -> None:
    """Wait until the server's log says its services (the scheduler among them) started; fail on an error."""
    deadline = time.monotonic() + timeout_s
    while True:
        _raise_on_log_error(log, offset)
        if services_started(read_log(log, offset)):
            return
        if time.monotonic() > deadline:
            raise FlowsError(f"the Prefect server answers but its services did not start within {timeout_s:.0f} s "
                             f"(no 'Perpetual services' line in {log}); `quantdesk flows down`, then "
                             "`quantdesk flows up`")
        time.sleep(0.5)


def _wait_scheduled(client: Any, log: Path | None, offset: int, timeout_s: float) -> None:
    """Wait until every active scheduled deployment has a SCHEDULED run; fail on a server error or timeout."""
    waiting = {d.id: d.name for d in client.read_deployments()
               if not d.paused and any(s.active for s in d.schedules or [])}
    deadline = time.monotonic() + timeout_s
    while waiting:
        if log is not None:
            _raise_on_log_error(log, offset)
        for deployment_id in scheduled_runs(client, list(waiting)):
            waiting.pop(deployment_id)
        if not waiting:
            return
        if time.monotonic() > deadline:
            where = f"see {log}" if log is not None else "see the server's log"
            raise FlowsError(f"the Prefect scheduler created no run of {', '.join(sorted(waiting.values()))} "
                             f"within {timeout_s:.0f} s ({where}); `quantdesk flows down`, then `quantdesk flows up`")
        time.sleep(1.0)


def _raise_on_log_error(log: Path, offset: int) -> None:
    error = first_error(read_log(log, offset))
    if error is not None:
        raise FlowsError(f"the Prefect server logged an error while starting: {error.summary()} (log: {log})")


def _api_url() -> str:
    env = os.environ.get("PREFECT_API_URL")
    if env:
        return env.rstrip("/")
    state = _read_state()
    if state is None:
        raise FlowsError("no Prefect server known: start one with `quantdesk flows up` (or set PREFECT_API_URL)")
    return state.api_url


def _schedule_text(deployment: Any) -> str | None:
    texts = []
    for s in deployment.schedules or []:
        schedule = s.schedule
        if getattr(schedule, "interval", None) is not None:
            texts.append(f"every {int(schedule.interval.total_seconds())} s")
        elif getattr(schedule, "cron", None):
            texts.append(f"cron {schedule.cron} {getattr(schedule, 'timezone', None) or 'UTC'}")
        elif getattr(schedule, "rrule", None):
            texts.append(f"rrule {schedule.rrule}")
    return "; ".join(texts) or None


def _state_view(run: Any) -> dict[str, Any]:
    state = run.state
    return {"flow_run_id": str(run.id), "name": run.name,
            "state": state.type.value if state else None, "state_name": state.name if state else None,
            "message": (state.message if state else None) or "",
            "start": run.start_time.isoformat() if run.start_time else None,
            "end": run.end_time.isoformat() if run.end_time else None}


def flows_status() -> dict[str, Any]:
    """Return the API and UI URLs and every deployment with its schedule, last run and next scheduled run."""
    api_url = _api_url()  # no server known or none answering: say so before importing Prefect
    if not _healthy(api_url):
        raise FlowsError(f"the Prefect server at {api_url} does not answer; start it with `quantdesk flows up`")
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    rows = []
    with prefect_client(api_url) as client:
        flows: dict[Any, str] = {}
        deployments = sorted(client.read_deployments(), key=lambda d: d.name)
        upcoming = scheduled_runs(client, [d.id for d in deployments])
        for d in deployments:
            if d.flow_id not in flows:
                flows[d.flow_id] = client.read_flow(d.flow_id).name
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
                flow_run_filter=FlowRunFilter(state={"type": FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])}),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1)
            following = upcoming.get(d.id)
            rows.append({"name": d.name, "flow": flows[d.flow_id], "schedule": _schedule_text(d),
                         "paused": bool(d.paused), "last_run": _state_view(runs[0]) if runs else None,
                         "next_run": following.expected_start_time.isoformat() if following else None})
    return {"api_url": api_url, "ui_url": _ui_url(api_url), "deployments": rows}


def parse_param(item: str) -> tuple[str, Any]:
    """Turn `k=v` into (k, v), v parsed as JSON when it is JSON (lists, numbers, null), else text."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--param {item!r} is not key=value; write e.g. --param deployment=sma-btc")
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


def run_flow(name: str, params: Mapping[str, Any] | None = None, *, wait: bool = False,
             timeout_s: float | None = None) -> dict[str, Any]:
    """Trigger deployment `name` (`deployment` or `flow/deployment`); with `wait`, return its final state."""
    from prefect.exceptions import PrefectHTTPStatusError

    api_url = _api_url()
    with prefect_client(api_url) as client:
        deployments = {}
        for d in client.read_deployments():
            flow = client.read_flow(d.flow_id).name
            deployments[d.name] = d
            deployments[f"{flow}/{d.name}"] = d
        found = deployments.get(name)
        if found is None:
            known = sorted(n for n in deployments if "/" not in n)
            raise ConfigError(f"no deployment {name!r} on {api_url} (known: {', '.join(known) or 'none'}); "
                              "`quantdesk flows status` lists them")
        try:
            run = client.create_flow_run_from_deployment(found.id, parameters=dict(params or {}))
        except PrefectHTTPStatusError as e:
            detail = e.response.json().get("detail", str(e)) if e.response is not None else str(e)
            raise ConfigError(f"Prefect refused the run of {name!r}: {detail}") from e
        if wait:
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while True:
                run = client.read_flow_run(run.id)
                if run.state is not None and run.state.type.value in _FINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    view = _state_view(run)
    return {**view, "deployment": found.name, "ui_url": f"{_ui_url(api_url)}/runs/flow-run/{run.id}"}


def _stop(pid: int | None) -> bool:
    if not _alive(pid):
        return False
    assert pid is not None
    try:
        os.killpg(pid, signal.SIGTERM)  # the whole group: a worker's flow-run processes too
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(pid, ""):
        time.sleep(0.2)
    if _alive(pid, ""):
        os.killpg(pid, signal.SIGKILL)
    return True


def flows_down() -> dict[str, Any]:
    """Stop the worker and server `flows up` started (nothing else); return what was stopped."""
    state = _read_state()
    if state is None:
        return {"stopped": [], "detail": "nothing to stop: `quantdesk flows up` has not run here"}
    stopped = []
    if _stop(state.worker_pid):
        stopped.append(f"worker (pid {state.worker_pid})")
    if not state.external and _stop(state.server_pid):
        stopped.append(f"server (pid {state.server_pid})")
    _state_path().unlink(missing_ok=True)
    return {"stopped": stopped, "api_url": state.api_url}
