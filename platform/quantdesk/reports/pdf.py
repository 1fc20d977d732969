"""HTML to PDF with headless Chromium (`--print-to-pdf`): the browser renders what people see.

The binary is `QUANTDESK_CHROMIUM`, else the first of chromium, chromium-browser, google-chrome
on PATH (Debian: `apt-get install chromium`). Rendering runs offline: a report that mentions a
CDN script renders without it. The PDF is written to a temporary name and renamed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from quantdesk.core.errors import ConfigError, DataError

__all__ = ["chromium_path", "html_to_pdf"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str:
    """Return the Chromium binary to print with; ConfigError saying how to install one."""
    explicit = os.environ.get("QUANTDESK_CHROMIUM")
    if explicit:
        if not Path(explicit).exists():
            raise ConfigError(f"QUANTDESK_CHROMIUM={explicit} does not exist; point it at a Chromium binary")
        return explicit
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("PDF reports need Chromium: install it (`apt-get install chromium`) or set QUANTDESK_CHROMIUM")


def html_to_pdf(html: Path, pdf: Path | None = None, *, timeout_s: float = 120.0) -> Path:
    """Print `html` to `pdf` (default: beside it, .pdf); return the PDF's path."""
    html = Path(html).resolve()
    if not html.exists():
        raise DataError(f"no HTML file at {html}")
    pdf = Path(pdf) if pdf is not None else html.with_suffix(".pdf")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quantdesk-pdf-") as profile:
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        args = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={profile}",
                "--virtual-time-budget=10000", f"--print-to-pdf={tmp}", html.as_uri()]
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tmp.unlink(missing_ok=True)
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise DataError(f"Chromium could not print {html.name} to PDF (exit {done.returncode}): {' | '.join(tail)}")
        tmp.replace(pdf)
    return pdf
