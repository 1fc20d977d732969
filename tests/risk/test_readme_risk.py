"""The README's "Risk analytics" block, run as a user types it (issue 25).

Each logical line runs in its own `bash -c` in a fresh QUANTDESK_HOME, as `tests/test_readme.py`
runs the trading section (same helpers: `export` lines carry over, a line ending in `&` starts in
the background and the next waits for its port). The venue listens on the README's port 8899:
run under `flock /tmp/quantdesk-readme.lock`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_readme import (
    BIN,
    _wait_for_port,
    _without_comment,
    section_commands,
    wait_port_free,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("readme")]


def test_the_risk_analytics_section_runs_as_written(quantdesk_home: Path, tmp_path: Path) -> None:
    commands = section_commands("Risk analytics: what the desk can lose")
    assert any(c.startswith("quantdesk risk var ") for c in commands)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    wait_port_free(8899, "the README's venue port")
    background: list[subprocess.Popen[str]] = []
    outputs: dict[str, str] = {}
    try:
        for line in commands:
            command = _without_comment(line)
            if command.startswith("export "):
                done = subprocess.run(["bash", "-c", f"{command}; env -0"], env=env, capture_output=True, text=True,
                                      check=True)
                env = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
                continue
            if command.endswith("&"):
                log = (tmp_path / "venue.log").open("w")
                background.append(subprocess.Popen(["bash", "-c", f"exec {command[:-1]}"], cwd=tmp_path, env=env,
                                                   stdout=log, stderr=subprocess.STDOUT, text=True))
                log.close()
                _wait_for_port(8899, background[-1])
                continue
            result = subprocess.run(["bash", "-c", f"set -e; {command}"], cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=600, check=False)
            assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
            outputs[command] = result.stdout
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
    text = "\n".join(outputs.values())
    assert re.search(r"desk: 1d 0\.99 historical VaR [\d,]+\.\d\d", text), text
    [doc] = [json.loads(v) for k, v in outputs.items() if "--json" in k]
    assert doc["method"] == "cornish-fisher" and doc["horizon"] == "10d" and doc["confidence"] == 0.99
    assert {c["name"] for c in doc["contributions"]} == {"BTC", "SOL"}
    assert sum(c["var_quote"] for c in doc["contributions"]) == pytest.approx(doc["var_quote"], rel=1e-9)
    assert doc["equity_quote"] > 0, "the venue's balances give the desk its equity"
    stress = next(v for k, v in outputs.items() if "risk stress" in k)
    assert "alt-crash" in stress and "unavailable" in stress  # the 2020-2022 crashes are not in the sample
    assert re.search(r"exceptions in 60 days .*zone \w+", next(v for k, v in outputs.items() if "var-backtest" in k),
                     re.S)
    assert "sim-secret" not in text and "ops-passphrase" not in text
