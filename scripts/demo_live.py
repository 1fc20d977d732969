"""The demo's last step: a paper deployment trading live on the simulated venue, offline, for about a minute.

It runs what an operator runs, as processes: `quantdesk venue serve --speed 60` (a minute bar
closes every second), `quantdesk venue add`, `quantdesk run NAME --venue-clock` and
`quantdesk dashboard`, on a demo desk of its own (`$QUANTDESK_HOME/demo`: its own ledger, user
and config; the lake, runs and reports are the main home's). The deployment is promoted the
real way: a 1m backtest and its walk-forward as evidence, judged by rehearsal gates (the
sample is synthetic: no strategy passes the real ones on it), with the built-in risk limits
on. Each fill is printed as it lands in the ledger while the overview shows it in the browser.
Every process the step starts is stopped at its end, whatever happens.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

NAME, VENUE, SYMBOL, USER = "demo-live", "demo-sim", "BTC/USDT", "demo"
# on the sample's last day this cross changes its target every 4-5 bars and never goes 26 bars without a change:
# any minute of bars trades
PARAMS = {"fast": 2, "slow": 5}
CAPITAL = 10_000
QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))


def desk_home() -> Path:
    """Return the demo desk's home: `$QUANTDESK_HOME/demo`, made fresh, sharing the main home's data."""
    from quantdesk.core.settings import get_settings

    main = get_settings().home.resolve()
    home = main / "demo"
    home.mkdir(parents=True, exist_ok=True)
    for name in ("quantdesk.db", "quantdesk.db-wal", "quantdesk.db-shm", "quantdesk.toml"):
        (home / name).unlink(missing_ok=True)  # a fresh desk each time: its deployment starts at the venue's start
    for shared in ("lake", "runs", "reports"):
        (main / shared).mkdir(exist_ok=True)
        link = home / shared
        if not link.exists() and not link.is_symlink():  # a folder someone put there is used as it is
            link.symlink_to(main / shared, target_is_directory=True)
    return home


@contextmanager
def desk_environment(home: Path) -> Iterator[dict[str, str]]:
    """Point this process (and the processes it starts) at the demo desk; restore the environment after."""
    saved = dict(os.environ)
    os.environ.update({"QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml"),
                       "QUANTDESK_USER": USER, "COLUMNS": "120"})
    for name in ("QUANTDESK_DB_URL", "QUANTDESK_CLOCK"):
        os.environ.pop(name, None)
    try:
        yield dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def promote_paper(console: Console, password: str) -> None:
    """Register the demo user, make the evidence (1m backtest, walk-forward) and promote to paper."""
    from quantdesk.backtest import LakeQuery, backtest, walk_forward
    from quantdesk.core import CostModel
    from quantdesk.identity import add_user
    from quantdesk.lake import SAMPLE_EXCHANGE, Lake
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import PromotionGates, promote

    last = Lake().candles(SYMBOL, "1m", exchange=SAMPLE_EXCHANGE)["ts"].max()
    window = {"start": (last - timedelta(days=4)).isoformat(), "end": (last - timedelta(days=1)).isoformat()}
    query = LakeQuery.of(SYMBOL, "1m", exchange=SAMPLE_EXCHANGE, **window)
    run = backtest("sma_cross", query, params=PARAMS, cost=CostModel(fee_bps=10), initial_cash=CAPITAL)
    walk = walk_forward("sma_cross", query, grid=["fast=3:9:3", "slow=10:30:10"], train="1d", test="12h",
                        cost=CostModel(fee_bps=10), initial_cash=CAPITAL)
    # rehearsal gates, for SYNTHETIC data only (README, "A quant's day"); the risk limits stay as built in
    # (a 1m SMA cross after fees has an out-of-sample Sharpe far below zero: any figure passes, none is missing)
    gates = PromotionGates(min_oos_sharpe=-math.inf, min_deflated_sharpe=0.0, max_drawdown=1.0, min_trades=1)
    with Ledger() as ledger:
        add_user(ledger, USER, "admin", actor=USER, password=password)
        promote(ledger, "sma_cross", run_id=run.run_id, to="paper", actor=USER, name=NAME, venue=VENUE,
                capital=CAPITAL, walkforward_run_id=walk.run_id, gates=gates,
                risk_overrides={"max_notional_per_order": CAPITAL})  # one order may move the whole capital
    params = " ".join(f"{k}={v}" for k, v in PARAMS.items())
    console.print(f"promoted sma_cross {params} on {SYMBOL} 1m to paper as [bold]{NAME}[/] on venue {VENUE} "
                  f"(evidence: backtest {run.run_id}, walk-forward {walk.run_id}; rehearsal gates)", highlight=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_json_document(stream: Any, timeout_s: float = 120) -> dict[str, Any]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"the simulated venue printed no address: {''.join(lines)[-500:]}")


def _wait_for_port(port: int, process: subprocess.Popen[Any], timeout_s: float = 120) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


class Processes:
    """The processes the step starts; `stop()` ends each one (SIGTERM, then SIGKILL) whatever happened."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[Any]] = []

    def start(self, args: list[str], log: Path | None = None, **kw: Any) -> subprocess.Popen[Any]:
        if log is not None:
            with log.open("w") as out:
                process = subprocess.Popen([QUANTDESK, *args], stdout=out, stderr=subprocess.STDOUT, **kw)
        else:
            process = subprocess.Popen([QUANTDESK, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True, **kw)
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _quantity(value: Any) -> str:
    """A quantity to 8 decimals at most (a paper fill keeps the backtest's unrounded size), no trailing zeros."""
    text = f"{float(value):.8f}".rstrip("0").rstrip(".")
    return text or "0"


def _fill_line(fill: Any) -> str:
    return (f"  fill {fill.ts:%Y-%m-%d %H:%M} UTC  {fill.side} {_quantity(fill.qty)} {fill.symbol} "
            f"at {float(fill.price):,.2f}")


def follow_run(console: Console, run: subprocess.Popen[Any], bars: int) -> int:
    """Print each fill of the deployment as it lands in the ledger until the run ends; return the fill count."""
    from quantdesk.ledger import Ledger

    seen = 0
    after = 0
    with Ledger() as ledger:
        while True:
            done = run.poll() is not None
            new = ledger.fills(deployment=NAME, after_id=after)
            for fill in new:
                console.print(_fill_line(fill), highlight=False)
                after = max(after, fill.id)
            seen += len(new)
            if done:
                return seen
            time.sleep(0.5)


def summary(console: Console, fills: int, run_log: Path) -> None:
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import get_deployment

    lines = [line for line in run_log.read_text().splitlines() if " UTC  " in line]
    stale = sum("RUNNER_STALE_DATA" in line for line in lines)
    denied = sum("denied:" in line for line in lines)
    with Ledger() as ledger:
        deployment = get_deployment(ledger, NAME)
        position = ledger.position(SYMBOL, venue=VENUE, account=f"paper:{NAME}")
    pnl = "no figure" if deployment.pnl is None else f"{float(deployment.pnl):+,.2f} USDT"
    console.print(f"{NAME}: {len(lines)} bars traded on the venue's clock, {fills} fills in the ledger, "
                  f"{denied} orders denied by the risk gate, {stale} bars without data; "
                  f"position {_quantity(position)} {SYMBOL.split('/')[0]}, PnL {pnl}", highlight=False)


def step_live_paper(console: Console, *, bars: int = 60) -> None:
    """Run the demo deployment live on the simulated venue for `bars` 1m bars (a bar a second)."""
    home = desk_home()
    password = secrets.token_urlsafe(12)
    # The password goes to an owner-only file, never to the terminal or a log: output is often kept.
    login = home / "login.txt"
    login.unlink(missing_ok=True)
    login.touch(mode=0o600)
    login.write_text(f"user {USER}\npassword {password}\n")
    processes = Processes()
    with desk_environment(home) as env:
        promote_paper(console, password)
        try:
            port = _free_port()  # the dashboard first: its address is on the screen before the market moves
            dashboard = processes.start(["dashboard", "--port", str(port)], log=home / "dashboard.log", env=env)
            if _wait_for_port(port, dashboard):
                console.print(f"\n[bold]Watch it live:[/] open [bold]http://127.0.0.1:{port}/overview[/] and log in "
                              f"as [bold]{USER}[/] (password in {login}, readable by you only)\n"
                              "(this demo desk's own admin; the fills appear under 'Latest fills' as they land)\n",
                              highlight=False)
            else:
                console.print(f"[yellow]the dashboard did not start[/] (see {home / 'dashboard.log'}); "
                              "the run goes on without it", highlight=False)
            serve = processes.start(["venue", "serve", "--port", "0", "--ws-port", "0", "--speed", "60",
                                     "--symbol", SYMBOL, "--json"], env=env)
            info = _read_json_document(serve.stdout)
            add = subprocess.run([QUANTDESK, "venue", "add", VENUE, "--exchange", "binance", "--api-url", info["url"],
                                  "--ws-url", info["ws_url"]], env=env, capture_output=True, text=True, check=False)
            if add.returncode != 0:
                raise RuntimeError(add.stderr.strip())
            console.print(f"$ quantdesk venue serve --speed 60   # {info['url']}, streams {info['ws_url']}, "
                          f"market time {info['start'][:16].replace('T', ' ')} UTC", highlight=False)
            console.print(f"$ quantdesk run {NAME} --venue-clock --bars {bars}   # paper, a 1m bar a second",
                          highlight=False)
            run_log = home / "run.log"
            run = processes.start(["run", NAME, "--venue-clock", "--bars", str(bars)], log=run_log, env=env)
            fills = follow_run(console, run, bars)
            if run.returncode != 0:
                tail = run_log.read_text().strip().splitlines()[-1:] or ["no output"]
                console.print(f"[red]the run stopped with exit code {run.returncode}[/]: {tail[0]}", highlight=False)
            else:
                summary(console, fills, run_log)
        finally:
            processes.stop()
    console.print(f"venue, runner and dashboard stopped (logs in {home}). To open this desk again: "
                  f"[bold]QUANTDESK_HOME={home} .venv/bin/quantdesk dashboard --port 5006[/], then "
                  f"http://127.0.0.1:5006/overview as {USER} (password in {home / 'login.txt'})", highlight=False)
