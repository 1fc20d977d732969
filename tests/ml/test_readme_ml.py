"""The README's "ML strategies" block, run as a user types it from the repository's root (issue 27)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.test_readme import BIN, REPO, _without_comment, section_commands

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_ml_section_runs_as_written(quantdesk_home: Path) -> None:
    commands = section_commands("ML strategies: signals that cannot cheat")
    assert any(c.startswith("quantdesk check lookahead research/strategies/ml_signal.py") for c in commands)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "160", "NO_COLOR": "1"}
    outputs = {}
    for line in commands:
        command = _without_comment(line)
        result = subprocess.run(["bash", "-c", f"set -e; {command}"], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=900, check=False)
        assert result.returncode == 0, f"README command failed: {line}\n{result.stdout}\n{result.stderr}"
        outputs[command] = result.stdout
    [backtest] = [json.loads(v) for k, v in outputs.items() if k.startswith("quantdesk backtest")]
    assert backtest["lookahead"]["passed"] is True and len(backtest["ml"]["artifact"]) == 64
    assert {row["feature"] for row in backtest["ml"]["importance"]} >= {"ret_1", "vol_12"}
    sweep = next(v for k, v in outputs.items() if k.startswith("quantdesk sweep"))
    assert "deflated Sharpe ratio" in sweep and "over 3 trials" in sweep
