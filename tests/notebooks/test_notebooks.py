"""Run every research/*.ipynb top to bottom against a small synthetic sample lake.

Each notebook runs with papermill in a fresh kernel (the project's own Python: jupyter
maps the `python3` kernelspec to this interpreter), inside the test's temporary
QUANTDESK_HOME, with small parameters so the whole set stays quick. A notebook passes when
every cell runs without an error; notebooks assert their own findings in their cells.
Add a notebook's small-run parameters to NOTEBOOK_PARAMETERS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "research").glob("*.ipynb"))

# Parameters that keep each notebook small; a notebook not listed runs with its defaults.
NOTEBOOK_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_lake_tour.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h"},
    "02_first_strategy.ipynb": {"symbol": "BTC/USDT", "timeframe": "1h", "fast": 5, "slow": 20,
                                "fee_grid": [0.0, 10.0]},
}
SAMPLE = {"symbols": 3, "days": 10}

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def test_every_notebook_is_stripped_and_has_a_parameters_cell() -> None:
    assert NOTEBOOKS, "research/ has no notebooks"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert "parameters" in code[0].get("metadata", {}).get("tags", []), f"{path.name}: first code cell must be tagged 'parameters'"
        dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: outputs are not stripped (code cells {dirty})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, quantdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill
    from jupyter_client.kernelspec import KernelSpecManager

    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), **SAMPLE)
    # The kernel is a child process: it inherits QUANTDESK_HOME and must import quantdesk.
    monkeypatch.setenv("PYTHONPATH", str(REPO / "platform"))
    assert "python3" in KernelSpecManager().find_kernel_specs(), f"no python3 kernel for {sys.executable}"
    out = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(out),
        parameters=NOTEBOOK_PARAMETERS.get(path.name, {}),
        kernel_name="python3",
        cwd=str(REPO / "research"),
        progress_bar=False,
        execution_timeout=600,
    )
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")
