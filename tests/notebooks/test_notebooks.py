"""Run every research/*.ipynb with nbval against a small synthetic sample lake.

papermill injects each notebook's small-run parameters (`prepare_only`: it writes the
notebook with the injected `parameters` cell without running it); nbval then runs the
prepared notebook cell by cell in a fresh kernel of the project's own Python (a separate
pytest process with `--nbval-lax`: every cell must run without an error; outputs are not
compared, notebooks assert their own findings in their cells). The kernel works in
research/ inside the test's temporary QUANTDESK_HOME. Add a notebook's small-run parameters
to NOTEBOOK_PARAMETERS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RESEARCH = REPO / "research"
NOTEBOOKS = sorted(RESEARCH.glob("*.ipynb"))

# Parameters that keep each notebook small; a notebook not listed runs with its defaults.
NOTEBOOK_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_lake_tour.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h"},
    "02_first_strategy.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h", "fast": 5, "slow": 20,
                                "fee_grid": [0.0, 10.0]},
    "04_nwe_repainting.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h", "window": 30},
    "05_cross_venue_spread.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h", "basis_bps": 8.0},
    "06_risk.ipynb": {"timeframe": "1h", "window": 120},
    "07_ml_signal.ipynb": {"symbol": "BTC/USDT", "timeframe": "15m", "horizon": 4, "train_window": 200,
                           "retrain_every": 96, "folds": 4},
}
SAMPLE = {"symbols": 3, "days": 10}
CELL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 1200

# The inner pytest must not read the repo's [tool.pytest.ini_options] (its addopts, testpaths
# and markers are the suite's); it gets this file instead. Warnings stay errors as in the
# suite, minus the Jupyter plumbing ones the suite also ignores.
INNER_INI = """\
[pytest]
addopts = -p no:cacheprovider
filterwarnings =
    error
    ignore::DeprecationWarning:jupyter_client.*
    ignore::DeprecationWarning:nbval.*
    ignore::DeprecationWarning:zmq.*
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours its tracebacks

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def test_every_notebook_is_stripped_and_has_a_parameters_cell() -> None:
    assert NOTEBOOKS, "research/ has no notebooks"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert "parameters" in code[0].get("metadata", {}).get("tags", []), f"{path.name}: first code cell must be tagged 'parameters'"
        dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: outputs are not stripped (code cells {dirty})"


def _prepare(path: Path, out: Path) -> None:
    """Write `path` to `out` with papermill's injected parameters and a cell that pins the kernel.

    nbval starts the kernel in the notebook's folder (here a temporary one), so the first cell
    moves it to research/, as `make lab` runs it; it also fails the run at once if the kernel
    is not this interpreter (the project's .venv), whatever nbval picked.
    """
    import nbformat
    import papermill

    papermill.execute_notebook(
        str(path), str(out), parameters=NOTEBOOK_PARAMETERS.get(path.name, {}),
        kernel_name="python3", prepare_only=True, progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    setup = nbformat.v4.new_code_cell(
        "import os, sys\n"
        f"os.chdir({str(RESEARCH)!r})\n"
        f"assert sys.prefix == {sys.prefix!r}, f'kernel runs {{sys.executable}}, not the project .venv'\n",
        metadata={"tags": ["injected-by-test"]},
    )
    nb.cells.insert(0, setup)
    nbformat.write(nb, out)


def _run_nbval(notebook: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    ini = workdir / "pytest-nbval.ini"
    ini.write_text(INNER_INI)
    # The kernel is a child of the inner pytest: it inherits QUANTDESK_HOME (the test's
    # temporary home) and needs quantdesk importable.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "platform"), os.environ.get("PYTHONPATH")]))}
    command = [
        sys.executable, "-m", "pytest", str(notebook),
        "-c", str(ini), "--rootdir", str(workdir),
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={CELL_TIMEOUT_S}",
        "-p", "no:xdist", "-p", "no:randomly", "-p", "no:cacheprovider",
        "-q", "-rA", "--tb=short", "--color=no",
    ]
    return subprocess.run(command, cwd=RESEARCH, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, check=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_under_nbval(path: Path, quantdesk_home: Path, tmp_path: Path) -> None:
    from quantdesk.lake import Lake, write_sample

    assert os.environ["QUANTDESK_HOME"] == str(quantdesk_home)
    write_sample(Lake(), **SAMPLE)
    prepared = tmp_path / path.name
    _prepare(path, prepared)
    run = _run_nbval(prepared, tmp_path)
    output = ANSI.sub("", f"nbval on {path.name} (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    assert run.returncode == 0, output
    # Every cell ran as one nbval item (the setup cell too) and none failed or was skipped.
    code_cells = sum(1 for c in json.loads(prepared.read_text())["cells"] if c["cell_type"] == "code")
    assert f"{code_cells} passed" in run.stdout and "skipped" not in run.stdout, output
