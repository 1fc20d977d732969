"""Research: stored runs (sortable), the newest sweep's heatmap over two parameters with its deflated
Sharpe and PBO, the newest walk-forward's out-of-sample equity, and a run's tearsheet on request."""

from __future__ import annotations

import hvplot.pandas  # noqa: F401 - registers .hvplot on pandas frames
import panel as pn

from quantdesk.core import display
from quantdesk.desk import research


def _fmt(value: object) -> str:
    return display.number(value, 3) if isinstance(value, float) else display.cell(value)


def _readable(frame: object) -> object:
    """The runs as readable text cells (no None/NaN; times as `2026-12-07 14:02 UTC`), for the table."""
    import pandas as pd

    rows = [{k: display.cell(v) for k, v in row.items()} for row in frame.to_dicts()]  # type: ignore[attr-defined]
    return pd.DataFrame(rows, columns=frame.columns)  # type: ignore[attr-defined]


def page() -> pn.viewable.Viewable:
    data = research()
    runs = data["runs"]
    if runs.is_empty():
        return pn.Column("# Research", pn.pane.Markdown("*no runs yet: `quantdesk backtest`, `quantdesk sweep`*"))
    table = pn.widgets.Tabulator(_readable(runs), show_index=False, sortable=True, pagination="local",
                                 page_size=15, disabled=True, sizing_mode="stretch_width")
    parts: list[pn.viewable.Viewable] = ["# Research", "### Runs (click a column to sort)", table]
    sweep = data["sweep"]
    if sweep is not None:
        parts.append(pn.pane.Markdown(
            f"### Sweep {sweep['run_id']} ({sweep['strategy']}, {sweep['combinations']} combinations)\n"
            f"Deflated Sharpe **{_fmt(sweep['deflated_sharpe'])}** · probability of backtest overfitting "
            f"**{_fmt(sweep['pbo'])}**"))
        if len(sweep["params"]) == 2:
            a, b = sweep["params"]
            results = sweep["results"].sort(a, b).to_pandas()  # numeric axes in numeric order
            parts.append(results.hvplot.heatmap(
                x=a, y=b, C=sweep["metric"], cmap="RdBu", responsive=True, height=360,
                title=f"{sweep['metric']} by {a} and {b}"))
    walk = data["walkforward"]
    if walk is not None:
        parts.append(pn.pane.Markdown(f"### Walk-forward {walk['run_id']}: out-of-sample total return "
                                      f"{display.percent(walk['metrics'].get('total_return'))}"))
        parts.append(walk["equity"].to_pandas().hvplot.line(x="ts", y="equity", responsive=True, height=260,
                                                             title="out-of-sample equity"))
    backtests = runs.filter(runs["kind"] == "backtest").get_column("run_id").to_list()
    if backtests:
        choose = pn.widgets.Select(name="tearsheet of", options=backtests, width=320)
        button = pn.widgets.Button(name="Open tearsheet", button_type="primary")
        sheet = pn.pane.HTML("", sizing_mode="stretch_width", height=0)

        def open_sheet(_event: object) -> None:
            from quantdesk.backtest import write_report

            path = write_report(choose.value)
            sheet.object = f'<iframe srcdoc="{_escape(path.read_text())}" style="width:100%;height:900px;border:0"></iframe>'
            sheet.height = 920

        def pdf() -> str:
            from quantdesk.backtest import write_report
            from quantdesk.reports.pdf import html_to_pdf

            return str(html_to_pdf(write_report(choose.value)))

        button.on_click(open_sheet)
        download = pn.widgets.FileDownload(callback=pdf, filename="tearsheet.pdf", label="Download PDF", embed=False)
        choose.param.watch(lambda e: setattr(download, "filename", f"{e.new}.pdf"), "value")
        download.filename = f"{choose.value}.pdf"
        parts += ["### Tearsheet", pn.Row(choose, button, download), sheet]
    return pn.Column(*parts, sizing_mode="stretch_width")


def _escape(html: str) -> str:
    return html.replace("&", "&amp;").replace('"', "&quot;")


if __name__.startswith("bokeh"):
    page().servable()
