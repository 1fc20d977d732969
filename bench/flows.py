"""Benchmark the Prefect operations: `flows up` (cold and reused) and a scheduled ingest run's overhead.

Side by side in one run, on the same candles: `quantdesk ingest` of N 1m candles from the
simulated venue (a fresh lake) against the same ingestion as a deployment run
(`quantdesk flows run ingest-binance-1m --param venue=sim ... --wait`, a fresh lake). The
overhead is the difference (goal: <= 2 s per run). `up_cold_s` includes the server creating its
database; `up_reused_s` is a second `up` (deploys again, starts nothing).

Also side by side: the live runner's decision latency (bar close -> order handed to the broker,
20 deployments of one symbol each, `bench/replay.py`'s live_latency) in a plain process, as
`quantdesk run` has it, and inside a Prefect flow run logging every bar to the Prefect API, as
the `live` deployment has it (goal: equal, p99 <= 10 ms).

Run: .venv/bin/python bench/flows.py [--bars 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run([QUANTDESK, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"quantdesk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def _scheduled_runs(home: Path, env: dict[str, str], start: datetime, end: datetime, runs: int) -> dict[str, object]:
    """A *scheduled* ingest run (the worker prefetches it, so its process is up before the time) against
    the same ingest called in-process: overhead = (run end - scheduled time) - in-process ingest time."""
    from prefect.client.schemas.objects import StateType
    from prefect.states import Scheduled

    from quantdesk.ingest import ingest
    from quantdesk.lake import Lake
    from quantdesk.ops.prefect_ctl import prefect_client

    os.environ.update({"QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml")})
    api_url = json.loads((home / "prefect" / "flows.json").read_text())["api_url"]
    inproc, spans = [], []
    for _ in range(runs):
        shutil.rmtree(home / "lake", ignore_errors=True)
        began = time.perf_counter()
        ingest("sim", ["BTC/USDT"], "1m", start.isoformat(), end.isoformat(), lake=Lake())
        inproc.append(time.perf_counter() - began)
        shutil.rmtree(home / "lake", ignore_errors=True)
        with prefect_client(api_url) as client:
            deployment = client.read_deployment_by_name("ingest/ingest-binance-1m")
            at = datetime.now(UTC) + timedelta(seconds=15)
            run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"venue": "sim", "symbols": ["BTC/USDT"], "since": start.isoformat(),
                                           "until": end.isoformat()}, state=Scheduled(scheduled_time=at))
            while True:
                run = client.read_flow_run(run.id)
                if run.state and run.state.type in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED):
                    break
                time.sleep(0.2)
        assert run.state.type is StateType.COMPLETED, run.state
        spans.append((run.end_time - at).total_seconds())
    return {"ingest_in_process_s": round(statistics.median(inproc), 2),
            "scheduled_time_to_end_s": round(statistics.median(spans), 2),
            "overhead_s": round(statistics.median(spans) - statistics.median(inproc), 2), "goal_s": 2.0}


def _latency_side_by_side() -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from prefect import flow, get_run_logger
    from prefect.testing.utilities import prefect_test_harness
    from replay import bench_latency

    plain = bench_latency()

    @flow(name="live-latency-bench")
    def under_prefect() -> dict[str, object]:
        logger = get_run_logger()
        return bench_latency(on_outcome=lambda o: logger.info("%s targets %s, %d orders", o.bar_ts.isoformat(),
                                                               o.targets, len(o.orders)))

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    with prefect_test_harness(server_startup_timeout=180):
        prefect = under_prefect()
    return {"cli_runner": plain, "prefect_flow": prefect, "goal_p99_ms": 10.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=5000, help="1m candles ingested per run")
    parser.add_argument("--runs", type=int, default=3, help="ingest runs of each kind (median reported)")
    opts = parser.parse_args()
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake.sample import generate_candles
    from quantdesk.venue import SimulatedVenue

    start = datetime(2024, 1, 1, tzinfo=UTC)
    frame = generate_candles("BTC/USDT", minutes=opts.bars)
    end = start + timedelta(minutes=opts.bars)
    with tempfile.TemporaryDirectory() as tmp, \
            SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(end + timedelta(minutes=1))) as venue:
        home = Path(tmp)
        (home / "quantdesk.toml").write_text(f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\n')
        env = {**os.environ, "QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml")}
        env.pop("PREFECT_API_URL", None)
        cold, _ = _timed(["flows", "up", "--port", str(_free_port()), "--paused", "--json"], env)
        reused, _ = _timed(["flows", "up", "--paused", "--json"], env)
        window = ["--since", start.isoformat(), "--until", end.isoformat()]
        plain, flow, inside = [], [], []
        try:
            for _ in range(opts.runs):
                shutil.rmtree(home / "lake", ignore_errors=True)
                seconds, _ = _timed(["ingest", "--exchange", "sim", "--symbol", "BTC/USDT", "--timeframe", "1m",
                                     *window, "--json"], env)
                plain.append(seconds)
                shutil.rmtree(home / "lake", ignore_errors=True)
                seconds, out = _timed(["flows", "run", "ingest-binance-1m", "--param", "venue=sim", "--param",
                                       'symbols=["BTC/USDT"]', "--param", f"since={start.isoformat()}", "--param",
                                       f"until={end.isoformat()}", "--wait", "--json"], env)
                result = json.loads(out)
                assert result["state"] == "COMPLETED", out
                flow.append(seconds)
                # the run's own span in Prefect (flow engine + the same ingest), without pickup and process start
                inside.append((datetime.fromisoformat(result["end"]) - datetime.fromisoformat(result["start"]))
                              .total_seconds())
            scheduled = _scheduled_runs(home, env, start, end, opts.runs)
        finally:
            subprocess.run([QUANTDESK, "flows", "down"], env=env, capture_output=True, check=False)
    median_plain, median_flow = statistics.median(plain), statistics.median(flow)
    print(json.dumps({
        "bench": "flows", "machine_cores": os.cpu_count(), "bars_per_ingest": opts.bars,
        "up_cold_s": round(cold, 2), "up_reused_s": round(reused, 2),
        "ingest_cli_s": round(median_plain, 2), "ingest_deployment_run_s": round(median_flow, 2),
        "deployment_overhead_s": round(median_flow - median_plain, 2), "overhead_goal_s": 2.0,
        "flow_run_span_s": round(statistics.median(inside), 2),
        "pickup_and_process_start_s": round(median_flow - statistics.median(inside), 2),
        "runs": opts.runs,
        "scheduled_run": scheduled,
        "live_decision_latency": _latency_side_by_side(),
        "note": "deployment run = `flows run --wait`: trigger, the worker's next poll (2 s), a new flow-run "
                "process (python, prefect, the flow file), the same ingest, then the CLI's poll; flow_run_span_s "
                "is Prefect's start->end of the run itself",
    }, indent=2))


if __name__ == "__main__":
    main()
