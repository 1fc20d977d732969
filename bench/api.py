"""Benchmark the HTTP API: read endpoints under 50 concurrent clients, and the order endpoint beside the order path.

The desk: a fresh home on /dev/shm (tmpfs: commits without fsync cost, as bench/order_path.py's
"without fsync" figure), its ledger filled by 2,000 paper orders and their fills through the gated
broker, a trader with a trade token, and limits raised so no request is throttled. The API runs
in its own process (uvicorn, one worker), the load comes from this one (httpx, asyncio): both
share the machine's cores, as a client on the same host would.

reads:  50 clients, each in a closed loop (a request as soon as its last answer came) over
        /v1/positions, /v1/orders, /v1/fills, /v1/deployments, /v1/trading-states, /v1/risk/denials,
        /v1/me for `--seconds`; and 50 clients each at 2 requests/s (open loop, a program polling).
        Per endpoint p50/p99 in ms and the requests served per second.
orders: `GatedBroker.submit` on a paper broker over the same kind of ledger, timed in-process (how
        bench/order_path.py times the order path the CLI and runners use), then POST /v1/orders
        (one client, one order at a time, each with its Idempotency-Key) to a server whose gated
        broker is the same paper broker: the difference is what the API adds (HTTP, token, policy,
        idempotency rows, JSON).

Run: .venv/bin/python bench/api.py [--seconds 10] [--orders 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

READS = ["/v1/positions", "/v1/orders?limit=50", "/v1/fills?limit=50", "/v1/deployments", "/v1/trading-states",
         "/v1/risk/denials", "/v1/me"]
RISK = {"default": {"max_orders_per_second": 1_000_000, "duplicate_window_ms": 0}}
CONFIG = """[api]
token_rate_per_s = 1000000
token_burst = 1000000
address_rate_per_s = 1000000
address_burst = 1000000
"""


def _gated(ledger: Any) -> Any:
    from quantdesk.broker import GatedBroker, PaperBroker
    from quantdesk.core.clock import SystemClock
    from quantdesk.risk import RiskConfig, RiskGate

    clock = SystemClock()
    broker = PaperBroker(name="paper", clock=clock)
    broker.update_price("BTC/USDT", 60_000)
    return GatedBroker(broker, ledger, RiskGate(RiskConfig.from_dict(RISK), clock, ledger), venue="paper", clock=clock)


def _intent(i: int, clock: Any) -> Any:
    from quantdesk.core import OrderIntent, OrderType, Side

    return OrderIntent(client_order_id=f"b-{i}", deployment="bench", venue="paper", symbol="BTC/USDT",
                       side=Side.BUY if i % 2 == 0 else Side.SELL, type=OrderType.MARKET, qty=Decimal("0.001"),
                       ts=clock.now())


def prepare(home: Path, orders: int) -> tuple[str, list[float]]:
    """Fill the desk; return a trade token and the in-process submit times (ms) of `orders` orders."""
    from quantdesk.identity import add_user
    from quantdesk.identity.tokens import create_token
    from quantdesk.ledger import Ledger

    os.environ["QUANTDESK_HOME"] = str(home)
    os.environ["QUANTDESK_CONFIG"] = str(home / "quantdesk.toml")
    (home / "quantdesk.toml").write_text(CONFIG)
    with Ledger() as ledger:
        add_user(ledger, "ada", "admin", actor="ada", password="bench-passphrase")
        add_user(ledger, "tina", "trader", actor="ada", password="bench-passphrase")
        token, _ = create_token(ledger, user="tina", scope="trade", expires="1d", actor="ada")
        gated = _gated(ledger)
        gated.start()
        samples = []
        for i in range(2_000 + orders):
            t = time.perf_counter()
            outcome = gated.submit(_intent(i, gated.clock))
            if i >= 2_000:
                samples.append((time.perf_counter() - t) * 1000)
            if not outcome.approved:
                raise RuntimeError(f"bench order denied: {outcome.code}")
    return token, samples


def serve(home: str, port: int) -> None:
    """Run the API on `port` with the paper broker for venue `paper` (the subprocess's entry point)."""
    import uvicorn

    from quantdesk.api import create_app
    from quantdesk.ledger import Ledger

    ledger = Ledger()
    app = create_app(ledger=ledger, opener=lambda venue: _gated(ledger))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _stats(ms: list[float]) -> dict[str, Any]:
    arr = np.array(ms)
    return {"requests": len(arr), "p50_ms": round(float(np.percentile(arr, 50)), 2),
            "p99_ms": round(float(np.percentile(arr, 99)), 2), "max_ms": round(float(arr.max()), 2)}


async def _reads(url: str, token: str, seconds: float, clients: int, rate_per_s: float | None) -> dict[str, Any]:
    import httpx

    times: dict[str, list[float]] = {path: [] for path in READS}
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as http:
        stop = time.perf_counter() + seconds

        async def client(n: int) -> None:
            nonlocal errors
            i = n
            while time.perf_counter() < stop:
                path = READS[i % len(READS)]
                i += 1
                t = time.perf_counter()
                answer = await http.get(path)
                times[path].append((time.perf_counter() - t) * 1000)
                errors += answer.status_code != 200
                if rate_per_s is not None:
                    await asyncio.sleep(max(0.0, 1 / rate_per_s - (time.perf_counter() - t)))

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    every = [t for ts in times.values() for t in ts]
    return {"clients": clients, "per_client_rate_per_s": rate_per_s, "errors": errors,
            "served_per_s": round(len(every) / elapsed, 1), "all": _stats(every),
            "by_endpoint": {path: _stats(ts) for path, ts in times.items() if ts}}


def _orders(url: str, token: str, orders: int) -> list[float]:
    import httpx

    samples = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for i in range(orders + 50):
            body = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy" if i % 2 == 0 else "sell", "qty": "0.001"}
            t = time.perf_counter()
            answer = http.post("/v1/orders", json=body, headers={"Idempotency-Key": f"bench-{i}"})
            elapsed = (time.perf_counter() - t) * 1000
            if answer.status_code != 201:
                raise RuntimeError(f"bench order answered {answer.status_code}: {answer.text[:200]}")
            if i >= 50:  # warm-up: the broker is built and reconciled on the first order
                samples.append(elapsed)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--serve", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        os.environ["QUANTDESK_HOME"] = args.serve[0]
        os.environ["QUANTDESK_CONFIG"] = str(Path(args.serve[0]) / "quantdesk.toml")
        serve(args.serve[0], int(args.serve[1]))
        return
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    out: dict[str, Any] = {"load_avg_1m": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
                           "started": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="qd-api-bench-", dir=base) as folder:
        home = Path(folder)
        token, direct = prepare(home, args.orders)
        port = 18_000 + os.getpid() % 1000
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(home), str(port)])
        try:
            _wait(port)
            url = f"http://127.0.0.1:{port}"
            out["reads_closed_loop_50_clients"] = asyncio.run(_reads(url, token, args.seconds, 50, None))
            out["reads_50_clients_at_2_per_s"] = asyncio.run(_reads(url, token, args.seconds, 50, 2.0))
            through_api = _orders(url, token, args.orders)
        finally:
            server.terminate()
            server.wait(timeout=30)
    out["orders"] = {"gated_submit_in_process": _stats(direct), "post_v1_orders": _stats(through_api),
                     "api_adds_p50_ms": round(float(np.percentile(through_api, 50) - np.percentile(direct, 50)), 2),
                     "api_adds_p99_ms": round(float(np.percentile(through_api, 99) - np.percentile(direct, 99)), 2)}
    out["targets"] = {"reads_p99_ms": 20.0, "api_adds_ms": 2.0}
    print(json.dumps(out, indent=1))


def _wait(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the API server did not start")


if __name__ == "__main__":
    main()
