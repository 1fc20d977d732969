"""The README's trading and streaming sections, run the way a user types them: command by command,
as written (issues 9 and 24).

The tests read the fenced bash block under "## Trading: one way out" (and "## Streaming
offline") from README.md, so editing the README changes what runs here. Each logical line (backslash continuations
joined) runs in its own `bash -c` subprocess with `.venv/bin` first on PATH, in a fresh
QUANTDESK_HOME; `export` lines carry their variables to the next commands, as a shell
would, and a line ending in `&` starts in the background (the next line waits until its
port answers, as a user would wait for the banner).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("readme")]


def section_commands(title: str) -> list[str]:
    """Return the logical command lines of the first bash block under `## {title}` in README.md."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"README section {title!r} has no bash block"
    joined = re.sub(r"\\\n\s*", "", block.group(1))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _without_comment(line: str) -> str:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    list(lexer)  # validates the quoting
    return re.sub(r"\s+#[^\"']*$", "", line).strip()


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the background command exited with {process.returncode} (see its log)")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port} within {timeout_s} s")


def _readme_env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    return env


def port_holder(port: int) -> str:
    """Who listens on `port` (pid and command line), for the failure message; '' when nobody does."""
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                return f"pid {conn.pid}: {' '.join(psutil.Process(conn.pid).cmdline())[:200]}"
            except psutil.Error:
                return f"pid {conn.pid}"
    return ""


def wait_port_free(port: int, what: str, timeout_s: float = 30.0) -> None:
    """Wait for `port` to be free (a previous section's server may still be exiting), else fail naming its holder."""
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} ({what}) is in use by another program ({port_holder(port) or 'unknown'}); "
                        "free it and rerun")
        time.sleep(0.5)


def _free_the_readme_ports() -> None:
    for port in (8899, 8900):
        wait_port_free(port, "the README's venue ports")


def _run(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f"set -e; {line}"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def _replay(commands: list[str], env: dict[str, str], cwd: Path, *, fill: dict[str, str] | None = None
            ) -> dict[str, str]:
    """Run `commands` one by one as a user types them; return each command's stdout.

    `export` lines carry their variables on, a line ending in `&` runs in the background until
    the end (the next line waits for its port); `fill` replaces placeholders the README names
    (RUN_ID) with what the user would paste.
    """
    background: list[subprocess.Popen[str]] = []
    outputs: dict[str, str] = {}
    try:
        for line in commands:
            command = _without_comment(line)
            for placeholder, value in (fill or {}).items():
                command = command.replace(placeholder, value)
            if command.startswith("export "):
                done = subprocess.run(["bash", "-c", f"{command}; env -0"], env=env, capture_output=True, text=True,
                                      check=True)
                env.clear()
                env.update(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
                continue
            if command.endswith("&"):
                log = (cwd / f"background-{len(background)}.log").open("w")
                process = subprocess.Popen(["bash", "-c", f"exec {command[:-1]}"], cwd=cwd, env=env,
                                           stdout=log, stderr=subprocess.STDOUT, text=True)
                log.close()
                background.append(process)
                port = re.search(r"--port (\d+)", command)
                _wait_for_port(int(port.group(1)) if port else 8899, process)
                continue
            result = _run(command, env, cwd)
            assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
            outputs[command] = result.stdout
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
    return outputs


def _paper_evidence(env: dict[str, str], cwd: Path) -> str:
    """What the README asks before its paper step, done from the CLI: a 1m backtest of sma_cross, its
    walk-forward and the rehearsal gates (the toml block of "A quant's day"); return the RUN_ID."""
    import json

    text = (REPO / "README.md").read_text()
    rehearsal = re.search(r"```toml\n(\[promotion\.paper\].*?)```", text, re.S)
    assert rehearsal, "README lost the rehearsal gates of 'A quant's day'"
    (Path(env["QUANTDESK_HOME"]) / "quantdesk.toml").write_text(rehearsal.group(1))
    window = "--exchange synthetic --symbol BTC/USDT --timeframe 1m --start 2024-03-26 --end 2024-03-29"
    backtest = _run(f"quantdesk backtest sma_cross {window} --param fast=3 --param slow=10 --json", env, cwd)
    assert backtest.returncode == 0, backtest.stderr
    walk = _run(f"quantdesk walkforward sma_cross {window} --grid fast=3:9:3 --grid slow=10:30:10 "
                "--train 1d --test 12h", env, cwd)
    assert walk.returncode == 0, walk.stderr
    return str(json.loads(backtest.stdout)["run_id"])


def test_the_trading_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    commands = section_commands("Trading: one way out")
    assert any("order --venue sim" in c for c in commands), commands
    assert any("--venue-clock" in c for c in commands), "the walkthrough runs a deployment live (issue 24)"
    env = _readme_env()
    _free_the_readme_ports()
    setup = _run("quantdesk sample", env, tmp_path)  # the README's prerequisite ("after `quantdesk sample`")
    assert setup.returncode == 0, setup.stderr
    run_id = _paper_evidence(env, tmp_path)
    outputs = _replay(commands, env, tmp_path, fill={"RUN_ID": run_id})
    text = "\n".join(outputs.values())
    assert re.search(r"order qd-[0-9a-f]{32}: filled", text), text
    positions = next(v for k, v in outputs.items() if "positions" in k)
    assert "BTC/USDT" in positions and "0.01" in positions
    assert "HALTED global (exchange incident)" in text and "ACTIVE global" in text
    assert "audit log ok" in text
    # the paper run: twenty bar closes on the venue's clock, none stale (on the wall clock all are)
    live = next(v for k, v in outputs.items() if "--venue-clock" in k).splitlines()
    assert len(live) == 20 and all(" UTC  target BTC/USDT " in line for line in live), live
    assert all(line.startswith("2024-") for line in live), live  # the venue's market time
    for secret in ("sim-secret", "ops-passphrase"):
        assert secret not in text, f"{secret!r} was printed"


def test_the_streaming_offline_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    """After what it names (the walkthrough's environment, user and `btc-sim`), the block as written."""
    commands = section_commands("Streaming offline")
    assert any(c.startswith("quantdesk stream --exchange sim") for c in commands), commands
    env = _readme_env()
    env.update({"QUANTDESK_SIM_API_KEY": "sim-key", "QUANTDESK_SIM_API_SECRET": "sim-secret", "QUANTDESK_USER": "ops"})
    _free_the_readme_ports()
    for line in ("quantdesk sample",
                 "printf 'ops-passphrase\\n' | quantdesk user add ops --role admin --password-stdin"):
        done = _run(line, env, tmp_path)
        assert done.returncode == 0, done.stderr
    run_id = _paper_evidence(env, tmp_path)
    promoted = _run(f"quantdesk promote sma_cross --run {run_id} --to paper --name btc-sim --venue sim", env, tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    outputs = _replay(commands, env, tmp_path)
    streamed = next(v for k, v in outputs.items() if k.startswith("quantdesk stream")).splitlines()
    assert len(streamed) == 3 and all(re.fullmatch(r"BTC/USDT 1m bar 2024-\S+ \S+ UTC stored", s) for s in streamed)
    from quantdesk.lake import Lake

    assert Lake().candles("BTC/USDT", "1m", exchange="sim").height >= 3  # REST backfill, then the streamed bars
    live = next(v for k, v in outputs.items() if "--stream" in k).splitlines()
    assert len(live) == 5 and all(line.startswith("2024-") and " target BTC/USDT " in line for line in live), live


def test_the_perpetual_futures_section_runs_as_written(quantdesk_home: Path, shared_data: Path) -> None:
    """The section's commands run from the repository root (its paths are `../shared/data/...`)."""
    commands = section_commands("Perpetual futures")
    assert sum("quantdesk import" in c for c in commands) == 3 and any("--market futures" in c for c in commands)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    outputs = []
    for line in commands:
        result = subprocess.run(["bash", "-c", f"set -e; {_without_comment(line)}"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    assert "91 rows, inserted 91" in outputs[2]
    assert re.search(r"futures 3x isolated: funding paid \d+\.\d+ over 10 settlements", outputs[3]), outputs[3]
    assert "engine futures" in outputs[4]
    assert "windows (rolling train 2d, test 1d)" in outputs[5]  # the futures walk-forward


def _replay_section(title: str, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Run a README section's bash block command by command (as the trading test does); return stdout per command."""
    background: list[subprocess.Popen[str]] = []
    outputs: dict[str, str] = {}
    try:
        for line in section_commands(title):
            command = _without_comment(line)
            if command.startswith("export "):
                done = subprocess.run(["bash", "-c", f"{command}; env -0"], env=env, capture_output=True, text=True,
                                      check=True)
                env = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
                continue
            if command.endswith("&"):
                log = (cwd / f"background-{len(background)}.log").open("w")
                process = subprocess.Popen(["bash", "-c", f"exec {command[:-1]}"], cwd=cwd, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, text=True)
                log.close()
                background.append(process)
                port = re.search(r"--port (\d+)", command)
                _wait_for_port(int(port.group(1)) if port else 8899, process)
                continue
            result = subprocess.run(["bash", "-c", f"set -e; {command}"], cwd=cwd, env=env, capture_output=True,
                                    text=True, timeout=300, check=False)
            assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
            outputs[command] = result.stdout
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
    return outputs


def test_the_arbitrage_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    import json

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    for port in (8901, 8902, 8903):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} (a README venue port) is in use by another program; free it and rerun")
    setup = subprocess.run(["bash", "-c", "quantdesk sample"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert setup.returncode == 0, setup.stderr
    outputs = _replay_section("Arbitrage: executable spreads", tmp_path, env)
    scan = next(v for k, v in outputs.items() if k.startswith("quantdesk arb scan"))
    assert re.search(r"buy 0\.5 BTC/USDT@sim-a .* sell 0\.5 BTC/USDT@sim-b", scan), scan
    # ETH/USDT: 0.5 ETH earns ~0.95 USDT before the 1 USDT that moving USDT back out of sim-b costs
    assert re.search(r"below the threshold: buy ETH/USDT@sim-a → sell ETH/USDT@sim-b: best -\d", scan), scan
    assert "stale" not in scan
    watch = next(v for k, v in outputs.items() if k.startswith("quantdesk arb watch"))
    assert re.search(r"\d+ evaluations, 0 opportunities opened", watch), watch  # still open since the scan
    triangles = json.loads(next(v for k, v in outputs.items() if k.startswith("quantdesk arb triangles")))
    [cycle] = triangles["opportunities"]
    assert [leg["symbol"] for leg in cycle["legs"]] == ["ETH/USDT", "ETH/BTC", "BTC/USDT"]
    assert 15 < float(cycle["edge_bps"]) < 27
    history = json.loads(next(v for k, v in outputs.items() if k.startswith("quantdesk notify history")))
    arb = [m for m in history["messages"] if m["event_type"] == "arb_opportunity"]
    assert len(arb) == 2  # BTC and the triangle: once each, though the watch saw BTC again and again


def test_the_api_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    """Serve the API, create a token, curl a read and a halt, as the README's "API" section types them."""
    commands = section_commands("API")
    assert any("api serve --port 8080" in c for c in commands) and any("/v1/halt" in c for c in commands)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.fail("port 8080 (the README's API port) is in use by another program; free it and rerun")
    background: list[subprocess.Popen[str]] = []
    outputs: list[tuple[str, str]] = []
    try:
        for line in commands:
            command = _without_comment(line)
            if command.startswith("export "):
                done = subprocess.run(["bash", "-c", f"set -e; {command}; env -0"], cwd=tmp_path, env=env,
                                      capture_output=True, text=True, check=True)
                env = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
                outputs.append((command, done.stderr))
                continue
            if command.endswith("&"):
                log = (tmp_path / f"api-{len(background)}.log").open("w")
                background.append(subprocess.Popen(["bash", "-c", f"exec {command[:-1]}"], cwd=tmp_path, env=env,
                                                   stdout=log, stderr=subprocess.STDOUT, text=True))
                log.close()
                _wait_for_port(8080, background[-1])
                continue
            result = subprocess.run(["bash", "-c", f"set -e; {command}"], cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=300, check=False)
            assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
            outputs.append((command, result.stdout + result.stderr))
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
    token = env["QD_TOKEN"]
    assert token.startswith("qdt_") and len(token) == 56
    by_command = dict(outputs)
    unauthenticated = next(v for k, v in by_command.items() if k.startswith("curl -s http://127.0.0.1:8080/v1/me"))
    assert '"code":"unauthorized"' in unauthenticated.replace(" ", "")
    read = next(v for k, v in by_command.items() if "/v1/orders" in k)
    assert read.startswith('{"items":[]') and '"next_cursor":null' in read
    halt = next(v for k, v in by_command.items() if "/v1/halt" in k)
    assert '"state":"HALTED"' in halt and '"actor":"ops"' in halt
    assert "trading state: HALTED" in by_command["quantdesk risk status"]
    listed = next(v for k, v in by_command.items() if "token list" in k)
    assert token[:12] in listed and "trade" in listed
    logs = "".join((tmp_path / f"api-{i}.log").read_text() for i in range(len(background)))
    everything = "\n".join(v for _, v in outputs) + logs
    assert token[13:] not in everything, "the token's secret was printed or logged"
    assert "ops-passphrase" not in everything


def test_the_market_sentiment_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    """ingest --sentiment against `quantdesk venue serve --perpetual`, its resume, and an imported series."""
    commands = section_commands("Market sentiment and money flow")
    assert any("--sentiment" in c for c in commands) and any("--series fear_greed" in c for c in commands)
    env = _readme_env()
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8905)) == 0:
            pytest.fail("port 8905 (the README's perpetual venue port) is in use by another program; free it and rerun")
    setup = _run("quantdesk sample", env, tmp_path)
    assert setup.returncode == 0, setup.stderr
    outputs = list(_replay(commands, env, tmp_path).values())
    first, again, imported, listing = outputs[1], outputs[2], outputs[4], outputs[5]
    flat = " ".join(first.split())
    assert "open_interest (1h): fetched 696 points" in flat and "taker_volume (1h): fetched 696 points" in flat, first
    import json

    resumed = json.loads(again)["sentiment"]
    assert [r["fetched"] for r in resumed] == [0, 0, 0] and all(r["resumed_from"] for r in resumed), again
    assert "series fear_greed of usdm-sim BTC/USDT:USDT: 3 points" in " ".join(imported.split()), imported
    for name in ("fear_greed", "long_short_ratio", "open_interest", "open_interest_value", "taker_buy_share_1h",
                 "taker_buy_volume_1h", "taker_sell_volume_1h"):
        assert name in listing, listing


def test_the_optimize_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    """Issue 27: the search runs, the second command resumes the first study, the statistics count its trials."""
    import json

    commands = section_commands("Searching a large space: `quantdesk optimize`")
    assert sum(c.startswith("quantdesk optimize") for c in commands) == 2, commands
    outputs = _replay(commands, _readme_env(), tmp_path)
    first, second = (v for k, v in outputs.items() if k.startswith("quantdesk optimize"))
    text = " ".join(first.split())
    assert "20 trials (20 run now, 0 resumed" in text and "deflated Sharpe ratio" in text, first
    payload = json.loads(second)
    assert payload["trials"] == 30 and payload["ran_now"] == 10  # resumed: only the missing trials ran
    assert payload["overfitting"]["n_trials"] == payload["evaluated"] <= 30
    assert payload["run_id"].startswith("optimize-") and payload["best_params"]["period"] in range(5, 31)


def test_the_readme_shows_the_policy_table_that_quantdesk_user_roles_prints() -> None:
    """The README's "Who may do what" table is the command's output, character for character (issue 23)."""
    from typer.testing import CliRunner

    from quantdesk.cli import app

    printed = CliRunner().invoke(app, ["user", "roles"])
    assert printed.exit_code == 0, printed.output
    section = (REPO / "README.md").read_text().split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    shown = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert shown == printed.stdout.strip(), "README's table is stale: paste the output of `quantdesk user roles`"


def test_the_risk_limits_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    """Built-in limits on a fresh home, then a quantdesk.toml layer, as the README's section types them."""
    replayed = _replay_section("Risk limits: on before anyone sets them", tmp_path, _readme_env())
    fresh, layered, as_json, status = (out for command, out in replayed.items() if command.startswith("quantdesk"))
    assert "max_notional_per_order" in fresh and "100000" in fresh and "built-in default" in fresh
    assert "[risk.default]" not in fresh
    assert "[risk.deployments.alpha]" in layered and "5000" in layered
    rows = {r["rule"]: r for r in json.loads(as_json)["limits"]}
    assert (rows["price_band_bps"]["limit"], rows["price_band_bps"]["source"]) == (None, "[risk.default]")
    assert (rows["max_leverage"]["limit"], rows["max_leverage"]["source"]) == (10, "built-in default")
    assert "trading state: ACTIVE" in status and "max_orders_per_second = 20  ([risk.default])" in status
    assert "{" not in status, "risk status prints words, not a Python dict"
