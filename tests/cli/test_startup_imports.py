"""Start-up stays light: everyday commands never import the heavy engines (issue 14, start-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"numba", "vectorbt", "ccxt", "prefect"}
CLI = Path(sys.executable).parent / "quantdesk"


@pytest.mark.parametrize("command", [["--help"], ["lake", "status"], ["orders"]], ids=" ".join)
def test_everyday_commands_do_not_import_heavy_engines(command: list[str], quantdesk_home: Path) -> None:
    run = subprocess.run([sys.executable, "-X", "importtime", str(CLI), *command],
                         capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in run.stderr.splitlines() if "|" in line}
    assert not imported & HEAVY, f"`quantdesk {' '.join(command)}` imported {sorted(imported & HEAVY)}"
    assert "pydantic_settings" not in imported or command != ["--help"], "--help must not load settings"
