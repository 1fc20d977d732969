"""Reports read as the desk does (issue 24): tables that fit the page, every header in the PDF, words for an
empty day, numeric heatmap axes, quiet kernels, and HTML that opens offline without asking another host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger
from quantdesk.reports.tables import header, report_table

NOW = datetime(2024, 1, 8, 6, 0, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
needs_pdf = pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("pdftotext")),
                               reason="chromium and pdftotext are absent (.ci/run installs them)")
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (.ci/run installs it)")
RAW = re.compile(r"\bNone\b|\bNaN\b|\bnan\b|\{'|\bTrue\b|\bFalse\b")


def test_a_wide_table_is_split_repeating_its_key_column_without_an_index_or_raw_values() -> None:
    rows = [{"series": f"s{i}", **{f"col_{k}": (None if k == 3 else float(k) if k % 2 else k) for k in range(9)},
             "flag": i % 2 == 0} for i in range(3)]
    html = report_table(rows, max_columns=4)
    tables = re.findall(r"<table.*?</table>", html)
    assert len(tables) == 4, "10 columns after the key, 3 per part"
    assert all("<th>series</th>" in t for t in tables), "each part repeats the key column"
    assert all(t.count("<th>") <= 4 for t in tables)
    assert "col 8" in html and "col_8" not in html, "headers read as words"
    text = re.sub(r"<[^>]+>", " ", html)
    assert not RAW.search(text), text
    assert "—" in text and "yes" in text and "no" in text, "missing as an em dash, booleans as words"
    assert header("missing_bars") == "missing bars"


@needs_pdf
def test_the_desk_report_pdf_has_every_column_header_and_an_empty_day_in_words(quantdesk_home: Path) -> None:
    from quantdesk.promotion import create_deployment
    from quantdesk.reports.desk import write_desk_report

    write_sample(Lake(), symbols=2, days=2)
    with Ledger(clock=ManualClock(NOW - timedelta(hours=1))) as ledger:
        create_deployment(ledger, "btc-sma", strategy="sma_cross", symbols=("BTC/USDT",), timeframe="1h", actor="ops")
        ledger.record_risk_event(code="MAX_NOTIONAL", detail="too big", deployment="btc-sma", symbol="BTC/USDT",
                                 approved=False)
        report = write_desk_report(ledger, period="daily", now=NOW)
    assert report.pdf is not None
    text = subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = " ".join(text.split())
    snapshot = __import__("json").loads(report.snapshot.read_text())
    for table in ("pnl", "risk_events", "data_health"):
        for column in snapshot[table][0]:
            assert header(column) in words, f"{table}: the column {column!r} is on paper ({words[:600]})"
    assert "Nothing traded in the period" in words, "a day without fills says so instead of an empty chart"
    assert not RAW.search(words), RAW.findall(words)
    html = report.html.read_text()
    assert "dataframe" not in html, "no pandas table (and no index column)"


def test_the_research_report_heatmap_axis_is_in_numeric_order() -> None:
    import json

    notebook = Path(__file__).resolve().parents[2] / "research" / "reports" / "research_job.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    [heatmap] = [c for c in cells if "imshow" in c]
    # the notebook's own ordering line, run on a pivot's text columns: 5, 10, 15, 20 (text order: 10, 15, 20, 5)
    [line] = [line for line in heatmap.splitlines() if line.strip().startswith("columns = ")]
    namespace: dict[str, Any] = {"pivot": type("Pivot", (), {"columns": ["slow", "15", "20", "5", "10"]})(), "b": "slow"}
    exec(line.strip(), namespace)  # noqa: S102 - the notebook's own line
    assert namespace["columns"] == ["5", "10", "15", "20"]


def _open_offline(path: Path) -> tuple[list[str], int]:
    """Open `path` in Chromium with every request to another host refused; return those requests and canvases."""
    import time

    from playwright.sync_api import sync_playwright

    asked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            request_route.continue_()
        else:
            asked.append(url)
            request_route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", route)
        page.goto(path.as_uri())
        page.wait_for_load_state("networkidle")
        deadline = time.monotonic() + 60
        while page.locator("canvas").count() == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        canvases = page.locator("canvas").count()
        browser.close()
    return asked, canvases


@needs_browser
def test_the_tearsheet_from_the_cli_opens_offline_and_draws(quantdesk_home: Path) -> None:
    from quantdesk.backtest import LakeQuery, backtest

    write_sample(Lake(), symbols=1, days=2)
    run = backtest("sma_cross", LakeQuery.of("BTC/USDT", "15m"), params={"fast": 4, "slow": 16})
    done = subprocess.run([str(Path(sys.executable).with_name("quantdesk")), "report", run.run_id],
                          capture_output=True, text=True, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    html = path.read_text()
    remote = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//[^"']+""", html)
    assert not remote, f"the tearsheet loads nothing from another host: {remote[:3]}"
    asked, canvases = _open_offline(path)
    assert not asked, f"opened offline, it asked {asked}"
    assert canvases >= 1, "the equity and drawdown charts are drawn"


@needs_browser
def test_the_desk_report_html_opens_offline_and_its_kernel_prints_nothing(quantdesk_home: Path, operator: str) -> None:
    write_sample(Lake(), symbols=1, days=2)
    done = subprocess.run([str(Path(sys.executable).with_name("quantdesk")), "desk-report", "--no-pdf"],
                          capture_output=True, text=True, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr
    assert "without encryption" not in done.stderr and "Kernel" not in done.stderr, done.stderr
    assert done.stderr.strip() == "", f"nothing but the result reaches the terminal: {done.stderr!r}"
    assert "desk report:" in done.stdout and "(cash flow 0.00, 0 fills)" in done.stdout, done.stdout
    [html] = (quantdesk_home / "reports" / "desk").glob("*.html")
    remote = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//[^"']+""", html.read_text())
    assert not remote, f"the desk report loads nothing from another host: {remote[:3]}"
    asked, _canvases = _open_offline(html)
    assert not asked, f"opened offline, it asked {asked}"
