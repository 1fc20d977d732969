"""The research notebooks draw their charts offline in JupyterLab (issue 24).

nbval compares outputs, not what a browser draws: a notebook whose hvplot charts ask
cdn.bokeh.org for BokehJS passes nbval and shows blank boxes without internet. Here each
notebook is opened in a real JupyterLab in headless Chromium with every request to another host
refused, run from the Run menu, and every cell that draws (`frame.hvplot...`) must hold a drawn
canvas or SVG in its output. (Panel's component stylesheets are still asked of cdn.holoviz.org and
refused: the charts draw without them.)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks.test_notebooks import NOTEBOOKS, REPO, SAMPLE, _prepare

CHROMIUM = "/usr/bin/chromium"
RUN_TIMEOUT_S = 900

pytestmark = [pytest.mark.notebooks, pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (.ci/run installs it)")]

CHART = re.compile(r"\w\.hvplot\.")  # a cell that draws: `frame.hvplot.line(...)` (not the import or a comment)
CHARTED = [p for p in NOTEBOOKS if CHART.search(p.read_text())]

# per code cell in order: its source, whether it ran, and whether its output holds a drawn canvas or SVG
# (Bokeh draws inside shadow roots)
_CELLS = """() => Array.from(document.querySelectorAll(".jp-Notebook .jp-CodeCell")).map((cell) => {
  const drawn = (root) => {
    if (root.querySelector("canvas, svg.bk-root, .bk-Canvas canvas")) return true;
    for (const el of root.querySelectorAll("*")) { if (el.shadowRoot && drawn(el.shadowRoot)) return true; }
    return false;
  };
  const output = cell.querySelector(".jp-OutputArea");
  const prompt = (cell.querySelector(".jp-InputPrompt") || {}).textContent || "";
  const source = Array.from(cell.querySelectorAll(".cm-line")).map((l) => l.textContent).join("\\n");
  const error = !!cell.querySelector('[data-mime-type="application/vnd.jupyter.stderr"] .ansi-red-fg, .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]');
  return {source, prompt: prompt.trim(), drawn: !!output && drawn(output), error};
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(quantdesk_home: Path, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A JupyterLab on a free port serving a folder of prepared notebooks, with windowing off (all cells drawn)."""
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), **SAMPLE)
    root = tmp_path / "notebooks"
    root.mkdir()
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # JupyterLab 4 leaves cells outside the viewport out of the page: draw them all, to look at each output
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "platform"), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-run")}
    log = (tmp_path / "lab.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--LabApp.extension_manager=readonly",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={tmp_path / 'lab-settings'}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, (tmp_path / "lab.log").read_text()
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", root, token
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.parametrize("path", CHARTED, ids=[p.name for p in CHARTED])
def test_the_notebook_draws_every_chart_in_jupyterlab_without_internet(path: Path, lab: Any) -> None:
    from playwright.sync_api import sync_playwright

    base, root, token = lab
    _prepare(path, root / path.name)
    foreign: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith((base, base.replace("http", "ws"), "data:", "blob:")):
            request_route.continue_()
        else:
            foreign.append(url)
            request_route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", route)
        page.goto(f"{base}/lab/tree/{path.name}?token={token}")
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=180_000)  # the kernel is up
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        cells = page.evaluate(_CELLS)
        while time.monotonic() < deadline and any(c["prompt"] in ("[*]:", "[ ]:", "") for c in cells):  # not all ran
            time.sleep(2)
            cells = page.evaluate(_CELLS)
        page.screenshot(path=str(root / f"{path.stem}.png"))
        assert all(c["prompt"] not in ("[*]:", "[ ]:", "") for c in cells), [(c["prompt"], c["source"][:40]) for c in cells]
        assert not any(c["error"] for c in cells), [c["source"][:80] for c in cells if c["error"]]
        charts = [c for c in cells if CHART.search(c["source"])]
        assert charts, "the notebook has chart cells"
        deadline = time.monotonic() + 120  # BokehJS lays out and draws after the kernel answered
        while time.monotonic() < deadline and not all(c["drawn"] for c in charts):
            time.sleep(1)
            charts = [c for c in page.evaluate(_CELLS) if CHART.search(c["source"])]
        browser.close()
    blank = [c["source"].splitlines()[0][:80] for c in charts if not c["drawn"]]
    assert not blank, f"{path.name}: chart cells without a drawn canvas or SVG offline: {blank}; asked {foreign[:5]}"
