"""The monitor's restarts of dead live runs (on Prefect's test server) and the ingest flow's plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantdesk.core.config_file import update_config
from quantdesk.core.errors import ConfigError
from quantdesk.core.settings import config_path
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.ledger.leases import acquire_lease
from quantdesk.ops.ingest_plan import plan_ingest
from tests.lake.lake_helpers import candles

from .conftest import load_flow

T0_MS = 1704067200000


def test_the_ingest_plan_keeps_up_the_lake_and_refuses_unknown_venues_and_bad_symbols(quantdesk_home: Path) -> None:
    update_config(config_path(), "venues", "sim", {"exchange": "binance", "api_url": "http://127.0.0.1:1"})
    lake = Lake()
    lake.write(candles(list(range(5)), t0_ms=T0_MS), exchange="sim", symbol="ETH/USDT", timeframe="1m")
    lake.write(candles(list(range(5)), t0_ms=T0_MS), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    assert plan_ingest("sim", "1m") == ["ETH/USDT"]
    assert plan_ingest("sim", "1h") == []
    assert plan_ingest("sim", "1m", ["SOL/USDT", "SOL/USDT"]) == ["SOL/USDT"]
    with pytest.raises(ConfigError, match="nosuch"):
        plan_ingest("nosuch", "1m")
    with pytest.raises(ConfigError, match="not BASE/QUOTE"):
        plan_ingest("sim", "1m", ["BTCUSDT"])
    with pytest.raises(ConfigError):
        plan_ingest("sim", "7q")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.xdist_group("prefect-harness")
def test_dead_live_runs_go_back_to_awaiting_retry_and_live_ones_are_left_alone(
    quantdesk_home: Path, prefect_harness: None,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Crashed, Running

    from quantdesk.ops.supervise import restart_lost_live_runs

    live = load_flow("live").live_flow
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client, Ledger() as ledger:
        def run(name: str, state: object) -> object:
            return client.create_flow_run(live, parameters={"deployment": name}, state=state)

        dead = run("dead", Running())
        alive = run("alive", Running())
        crashed = run("crashed", Crashed(message="worker lost"))
        done = run("done", Completed())
        fresh = run("fresh", Running())
        acquire_lease(ledger, "alive", "host:1:a", ttl_s=3600)  # renewing: its runner is alive
        acquire_lease(ledger, "dead", "host:2:b", ttl_s=5, now=now - timedelta(minutes=10))  # lapsed long ago
        later = now + timedelta(minutes=5)  # every run has been RUNNING for longer than a lease period
        found = {r.deployment: r for r in restart_lost_live_runs(ledger, client=client, now=later, lease_s=30)}
        assert set(found) == {"dead", "crashed", "fresh"}, found  # fresh: RUNNING, no lease at all -> dead too
        assert all(r.restarted for r in found.values())
        for flow_run in (dead, crashed, fresh):
            state = client.read_flow_run(flow_run.id).state
            assert state.name == "AwaitingRetry" and state.type.value == "SCHEDULED"
        for flow_run, kind in ((alive, "RUNNING"), (done, "COMPLETED")):
            assert client.read_flow_run(flow_run.id).state.type.value == kind
        # a run just started (younger than a lease period) is not judged yet
        young = run("young", Running())
        assert restart_lost_live_runs(ledger, client=client, now=datetime.now(UTC), lease_s=30) == []
        assert client.read_flow_run(young.id).state.type.value == "RUNNING"
        audited = [e.payload["deployment"] for e in ledger.audit_log(action="flow.restarted")]
        assert sorted(audited) == ["crashed", "dead", "fresh"]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.xdist_group("prefect-harness")
def test_the_live_flow_refuses_an_unknown_deployment_at_once_and_notifies(
    quantdesk_home: Path, prefect_harness: None,
) -> None:
    live = load_flow("live").live_flow
    state = live(deployment="ghost", return_state=True)
    assert state.is_failed() and "no deployment named 'ghost'" in state.message
    with Ledger() as ledger:
        [failed] = ledger.audit_log(action="flow.failed")
        assert failed.payload["flow"] == "live" and "ghost" in failed.payload["message"]
        from quantdesk.ledger.outbox import LedgerOutbox

        assert [m.event_type for m in LedgerOutbox(ledger).history()] == ["flow_failed"]
