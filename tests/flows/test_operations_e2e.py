"""End to end: `quantdesk flows up` starts a real Prefect server and process worker (free ports).

One server per module (it takes ~20 s to start). `flows up` schedules every scheduled
deployment of the project's prefect.yaml, and a run nobody triggered completes (the monitor,
every few seconds here); this is also the check that a lock bump has not broken Prefect's
scheduler again (issue 22). The research deployment runs on the small sample lake and leaves
its report and artifacts; bad input fails with a one-line reason; and the live deployment
survives a SIGKILL of its worker: a *scheduled* monitor run puts the dead run back to
AwaitingRetry, a new worker runs it, the runner takes the lapsed lease, reconciles, and in the
end the ledger equals the venue with exactly one venue order per client order id. When the
server stops, its log must hold no ERROR and no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import FLIP_SOURCE, VenueTicker, candles, make_deployment
from tests.prefect_servers import assert_server_log_clean

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("prefect-e2e")]

QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))
KEY, SECRET = "flows-key", "flows-secret"
SPEED = 30.0  # market time runs 30x the wall clock: a 1m bar every 2 s
MONITOR_EVERY_S = 5  # the monitor's schedule here (prefect.yaml: 300 s), through QUANTDESK_MONITOR_INTERVAL_S
SCHEDULED = ("ingest-binance-1m", "ingest-binance-1h", "research-nightly", "monitor")  # prefect.yaml's schedules


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Desk:
    """The installation the test drives through the CLI, as an operator would."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.first_up: dict[str, Any] = {}

    def ledger(self) -> Any:
        from quantdesk.ledger import Ledger

        return Ledger(f"sqlite:///{self.home / 'quantdesk.db'}")

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([QUANTDESK, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"quantdesk {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def json(self, *args: str, check: bool = True, timeout: float = 600) -> Any:
        return json.loads(self.cli(*args, "--json", check=check, timeout=timeout).stdout)

    def client(self) -> Any:
        from quantdesk.ops.prefect_ctl import prefect_client

        return prefect_client(self.state["api_url"])

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.home / "prefect" / "flows.json").read_text())


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desk, Any, Any]]:
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake import Lake, write_sample
    from quantdesk.live.schedule import ScaledClock
    from quantdesk.venue import SimulatedVenue

    home = tmp_path_factory.mktemp("desk")
    frame = candles(3000)
    start_ms = int(frame["ts"][300].timestamp() * 1000)
    scaled = ScaledClock(start_ms, int(time.time() * 1000), SPEED)
    venue = SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start_ms), api_key=KEY, api_secret=SECRET).start()
    ticker = VenueTicker(venue, scaled).start()  # the venue's market time follows the scaled clock
    (home / "flip.py").write_text(FLIP_SOURCE)
    (home / "quantdesk.toml").write_text(f"""
[venues.sim]
exchange = "binance"
api_url = "{venue.url}"
key_env = "QD_FLOWS_KEY"
secret_env = "QD_FLOWS_SECRET"
options = {{ defaultType = "spot", fetchCurrencies = false, fetchMargins = false }}

[[research.jobs]]
name = "sma-btc"
strategy = "sma_cross"
grid = ["fast=3:12:3", "slow=24:48:12"]
symbols = ["BTC/USDT"]
timeframe = "1h"
exchange = "synthetic"
train = "4d"
test = "2d"
""")
    env = {**os.environ, "QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml"),
           "QD_FLOWS_KEY": KEY, "QD_FLOWS_SECRET": SECRET, "QUANTDESK_CLOCK": scaled.spec(),
           "QUANTDESK_RUNNER_LEASE_S": "3", "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "QUANTDESK_USER": "ops",
           "QUANTDESK_MONITOR_INTERVAL_S": str(MONITOR_EVERY_S)}
    env.pop("PREFECT_API_URL", None)
    write_sample(Lake(home / "lake"), symbols=1, days=20)
    d = Desk(home, env)
    from quantdesk.identity import add_user

    with d.ledger() as ledger:  # deploying and running flows is an operator's (the policy)
        add_user(ledger, "ops", "admin", actor="ops")
    try:
        # as an operator does it: schedules on (`up` returns once the scheduler has queued their runs)
        d.first_up = d.json("flows", "up", "--port", str(_free_port()))
        yield d, venue, scaled
    finally:
        d.cli("flows", "down", check=False)
        ticker.stop()
        venue.stop()
    assert_server_log_clean(home / "prefect" / "server.log")


def _alive(pid: int | None) -> bool:
    import psutil

    return bool(pid) and psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def _runs_of(d: Desk, deployment: str) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with d.client() as client:
        return client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
                                     limit=200)


def test_flows_up_leaves_every_scheduled_deployment_with_scheduled_runs(desk: tuple[Desk, Any, Any]) -> None:
    d, _, _ = desk
    for name in SCHEDULED:  # `up` has returned: the scheduler has queued runs of each, nobody triggered any
        queued = [r for r in _runs_of(d, name) if r.state.type.value == "SCHEDULED"]
        assert queued and all(r.auto_scheduled for r in queued), name
    assert _runs_of(d, "live") == [], "live has no schedule: it runs only when asked"
    status = {r["name"]: r for r in d.json("flows", "status")["deployments"]}
    assert all(status[name]["next_run"] for name in SCHEDULED) and status["live"]["next_run"] is None
    assert "T02:00:00" in status["research-nightly"]["next_run"]
    table = d.cli("flows", "status").stdout
    assert "next run" in table and " UTC (in " in table


def test_a_scheduled_run_nobody_triggered_completes(desk: tuple[Desk, Any, Any]) -> None:
    d, _, _ = desk
    _wait(lambda: any(r.auto_scheduled and r.state.type.value == "COMPLETED" for r in _runs_of(d, "monitor")),
          300, f"a scheduled monitor run (every {MONITOR_EVERY_S} s) to complete")
    assert all(r.auto_scheduled for r in _runs_of(d, "monitor")), "no monitor run was triggered by hand"


def test_flows_up_deploys_everything_and_a_second_up_reuses_what_runs(desk: tuple[Desk, Any, Any]) -> None:
    d, _, _ = desk
    first = d.first_up
    port = first["api_url"].rsplit(":", 1)[1].split("/")[0]
    assert first["api_url"] == f"http://127.0.0.1:{port}/api" and first["ui_url"] == f"http://127.0.0.1:{port}"
    assert {"ingest-binance-1m", "ingest-binance-1h", "research-nightly", "monitor", "live"} <= set(first["deployments"])
    # from here on the module runs its deployments by hand: every schedule paused
    again = d.json("flows", "up", "--port", port, "--paused")
    assert (again["server_pid"], again["worker_pid"]) == (first["server_pid"], first["worker_pid"])
    status = d.json("flows", "status")
    assert status["api_url"] == first["api_url"]
    rows = {r["name"]: r for r in status["deployments"]}
    assert rows["monitor"]["flow"] == "monitor" and rows["monitor"]["schedule"] == f"every {MONITOR_EVERY_S} s"
    assert rows["research-nightly"]["schedule"] == "cron 0 2 * * * UTC" and rows["research-nightly"]["paused"]
    assert rows["ingest-binance-1m"]["schedule"] == "every 60 s" and rows["live"]["schedule"] is None
    assert set(rows["live"]) == {"name", "flow", "schedule", "paused", "last_run", "next_run"}
    assert all(r["next_run"] is None for r in rows.values()), "a paused deployment has no run queued"
    # the Prefect UI is served locally
    import urllib.request

    with urllib.request.urlopen(first["ui_url"], timeout=10) as r:
        assert r.status == 200 and b"<html" in r.read().lower()


def test_the_research_deployment_leaves_a_report_and_artifacts(desk: tuple[Desk, Any, Any]) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    d, _, _ = desk
    result = d.json("flows", "run", "research-nightly", "--wait", "--timeout", "300")
    assert result["state"] == "COMPLETED", result
    reports = list((d.home / "reports" / "research" / "sma-btc").glob("*.html"))
    assert len(reports) == 1 and "Stored runs: sweep" in reports[0].read_text()
    with d.client() as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["research-sma-btc", "research-sma-btc-report"])))
    by_key = {a.key: a for a in arts}
    assert "best_params" in str(by_key["research-sma-btc"].data)
    assert reports[0].as_uri() in str(by_key["research-sma-btc-report"].data)
    status = {r["name"]: r for r in d.json("flows", "status")["deployments"]}
    assert status["research-nightly"]["last_run"]["state"] == "COMPLETED"


def test_bad_input_fails_at_the_start_with_a_one_line_reason(desk: tuple[Desk, Any, Any]) -> None:
    d, _, _ = desk
    unknown = d.cli("flows", "run", "nightly-typo", check=False)
    assert unknown.returncode != 0 and "no deployment 'nightly-typo'" in unknown.stderr
    assert "research-nightly" in unknown.stderr and unknown.stderr.count("\n") <= 2
    before = _runs(d.home)
    bad_job = d.json("flows", "run", "research-nightly", "--param", "job=typo", "--wait", "--timeout", "300", check=False)
    assert bad_job["state"] == "FAILED" and "no research job 'typo'" in bad_job["message"]
    bad_venue = d.json("flows", "run", "ingest-binance-1m", "--param", "venue=nosuchvenue", "--wait",
                       "--timeout", "300", check=False)
    assert bad_venue["state"] == "FAILED" and "nosuchvenue" in bad_venue["message"]
    began = time.monotonic()
    bad_live = d.json("flows", "run", "live", "--param", "deployment=ghost", "--wait", "--timeout", "300", check=False)
    assert bad_live["state"] == "FAILED" and "no deployment named 'ghost'" in bad_live["message"]
    assert time.monotonic() - began < 60, "bad input is not retried"
    assert _runs(d.home) == before, "nothing was written"


def _runs(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").exists() else []


def _orders(d: Desk) -> list[Any]:
    with d.ledger() as ledger:
        return ledger.orders(deployment="flip-flows")


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _monitor_at_rest(d: Desk) -> None:
    """No monitor run queued or in flight before the machine "dies" below.

    The monitor runs one at a time (prefect.yaml: concurrency 1). A monitor run killed with its
    worker keeps that slot until Prefect's slot lease lapses (minutes), so every scheduled monitor
    run after the kill would be cancelled until then: the earlier tests' 5-second schedule left
    runs queued (pausing a deployment does not remove runs already scheduled), and one of them
    could be running when the worker is killed. Start from a quiet monitor instead.
    """
    with d.client() as client:
        client.pause_deployment(client.read_deployment_by_name("monitor/monitor").id)
        for r in _runs_of(d, "monitor"):
            if r.state.type.value == "SCHEDULED":
                client.delete_flow_run(r.id)
    _wait(lambda: all(r.state.is_final() for r in _runs_of(d, "monitor")), 120, "in-flight monitor runs to end")


def test_the_live_deployment_survives_a_sigkilled_worker_without_duplicating_an_order(
    desk: tuple[Desk, Any, Any],
) -> None:
    import psutil

    from quantdesk.ledger.leases import lease_of

    d, venue, _ = desk
    _monitor_at_rest(d)
    with d.ledger() as ledger:
        make_deployment(ledger, "flip-flows", strategy=f"{d.home / 'flip.py'}:Flip", stage="live", venue="sim",
                        exchange="sim", params={"period": 2})
    run = d.json("flows", "run", "live", "--param", "deployment=flip-flows")
    _wait(lambda: len(_orders(d)) >= 2, 180, "the live run to trade")
    worker = psutil.Process(d.state["worker_pid"])
    doomed = [worker, *worker.children(recursive=True)]
    assert any("flip-flows" in " ".join(p.cmdline()) or "prefect" in " ".join(p.cmdline()) for p in doomed)
    for p in doomed:  # the machine dies: worker and its flow-run process, no cleanup at all
        p.send_signal(signal.SIGKILL)
    psutil.wait_procs(doomed, timeout=10)
    traded_before = len(_orders(d))
    with d.ledger() as ledger:
        _wait(lambda: (lambda lease: lease is None or lease.expires_at.timestamp() < time.time())(
            lease_of(ledger, "flip-flows")), 30, "the dead runner's lease to lapse")
    again = d.json("flows", "up", "--paused")  # the operator brings a worker back; the server kept running
    assert again["worker_pid"] != worker.pid and _alive(again["worker_pid"])
    # nobody triggers the monitor: its schedule (every few seconds here) is what restarts the dead run
    with d.client() as client:
        monitor_id = client.read_deployment_by_name("monitor/monitor").id
        client.resume_deployment(monitor_id)
    try:
        with d.ledger() as ledger:
            _wait(lambda: bool(ledger.audit_log(action="flow.restarted")), 300, "a scheduled monitor run to restart it")
            restart = ledger.audit_log(action="flow.restarted")[0]
    finally:
        with d.client() as client:
            client.pause_deployment(monitor_id)
    assert restart.payload["flow_run_id"] == run["flow_run_id"]
    with d.client() as client:
        restarted = client.read_flow_run(run["flow_run_id"])
        by = client.read_flow_run(restart.payload["by_flow_run_id"])
    assert by.deployment_id == monitor_id and by.auto_scheduled, "the restart came from a scheduled monitor run"
    assert all(r.auto_scheduled for r in _runs_of(d, "monitor")), "no monitor run was triggered by hand"
    assert restarted.state.type.value in ("SCHEDULED", "PENDING", "RUNNING"), restarted.state
    # the same flow run runs again: it waits for the dead run's concurrency slot (a 60 s lease), then trades
    _wait(lambda: len(_orders(d)) >= traded_before + 2, 300, "the restarted run to trade again")
    with d.client() as client:
        live_run = client.read_flow_run(run["flow_run_id"])
        assert live_run.state.type.value == "RUNNING" and live_run.run_count >= 2
        from prefect.states import Cancelling

        client.set_flow_run_state(run["flow_run_id"], Cancelling(), force=True)
    _wait(lambda: _final(d, run["flow_run_id"]), 120, "the cancelled run to end")

    with d.ledger() as ledger:
        taken = [e for e in ledger.audit_log(action="runner.lease.taken_over")]
        assert taken and taken[-1].payload["deployment"] == "flip-flows"
        reconciled = [e for e in ledger.audit_log() if e.action == "broker.reconcile" and e.seq > taken[-1].seq]
        first_order = [e for e in ledger.audit_log() if e.action.startswith("order.") and e.seq > taken[-1].seq]
        assert reconciled and (not first_order or reconciled[0].seq < first_order[0].seq), \
            "the restarted runner reconciles before its first order"
        venue_orders = venue.orders()
        ids = [o.client_order_id for o in venue_orders]
        assert len(ids) == len(set(ids)), "a client order id reached the venue twice"
        mine = {o.client_order_id: o for o in ledger.orders(deployment="flip-flows")}
        sent = {cid for cid, o in mine.items() if o.venue_order_id is not None}
        assert sent == set(ids)
        for o in venue_orders:
            row = mine[o.client_order_id]
            assert row.status.is_final and row.filled_qty == o.executed_qty, (row, o)
        fills = ledger.fills(venue="sim")
        assert {f.trade_id for f in fills} == {str(t.trade_id) for t in venue.trades()}
        position = ledger.position("BTC/USDT", venue="sim")
        assert position == sum((f.signed_qty for f in fills), Decimal(0))
        free, locked = venue.balances().get("BTC", (Decimal(0), Decimal(0)))
        assert position == free + locked


def _final(d: Desk, flow_run_id: str) -> bool:
    with d.client() as client:
        state = client.read_flow_run(flow_run_id).state
    return state is not None and state.is_final()


def test_with_prefect_api_url_set_up_uses_that_server_and_starts_only_a_worker(
    desk: tuple[Desk, Any, Any], tmp_path: Path,
) -> None:
    d, _, _ = desk
    other = Desk(tmp_path, {**d.env, "QUANTDESK_HOME": str(tmp_path), "QUANTDESK_CONFIG": str(tmp_path / "none.toml"),
                            "PREFECT_API_URL": d.state["api_url"]})
    from quantdesk.identity import add_user

    with other.ledger() as ledger:  # another installation: its own ledger and operator
        add_user(ledger, "ops", "admin", actor="ops")
    up = other.json("flows", "up", "--paused")
    try:
        assert up["external"] is True and up["server_pid"] is None and up["api_url"] == d.state["api_url"]
        assert _alive(up["worker_pid"]) and up["worker_pid"] != d.state["worker_pid"]
    finally:
        down = other.json("flows", "down")
    assert down["stopped"] == [f"worker (pid {up['worker_pid']})"]
    assert _alive(d.state["server_pid"]), "the shared server is not ours to stop"


def test_flows_down_stops_what_up_started_and_nothing_else(desk: tuple[Desk, Any, Any]) -> None:
    d, _, _ = desk
    state = d.state
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = d.json("flows", "down")
        assert len(result["stopped"]) == 2
        _wait(lambda: not _alive(state["worker_pid"]) and not _alive(state["server_pid"]), 30, "up's processes to end")
        assert bystander.poll() is None, "down touched a process it did not start"
        assert "nothing to stop" in d.json("flows", "down")["detail"]
    finally:
        bystander.kill()
        bystander.wait()
