"""Report notebooks run as jobs: papermill executes them quietly, nbconvert renders HTML that opens offline.

The kernel papermill starts logs at ERROR only, so a report prints nothing to the user's
terminal but its result (ipykernel otherwise warns "Kernel is running over TCP without
encryption" on every run). The HTML uses nbconvert's lab page without its scripts from other
hosts (`templates/offline`): the reports draw with matplotlib PNGs and inline Bokeh, so they
need nothing else, and a report opened offline asks no other host for anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["QUIET_KERNEL", "render_notebook"]

TEMPLATES = Path(__file__).parent / "templates"
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]  # the kernel's own log lines (e.g. the TCP warning) stay unsaid


def render_notebook(notebook: Path, executed: Path, html: Path, parameters: dict[str, Any]) -> Path:
    """Execute `notebook` with `parameters` into `executed`, render it to `html` (inputs hidden); return `html`."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    executed.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(notebook.parent), extra_arguments=QUIET_KERNEL)
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    tmp = html.with_name(f".{html.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html)  # readers never see half a report
    return html
