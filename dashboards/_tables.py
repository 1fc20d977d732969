"""Shared bits of the pages: rows to a table pane, rows to HTML, download buttons."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

# the look of pn.pane.DataFrame for tables drawn as HTML (one pane for many tables is cheaper per session)
TABLE_CSS = """
table.qd { border-collapse: collapse; width: 100%; font-size: 13px; margin-bottom: 8px; }
table.qd th { text-align: left; border-bottom: 1px solid #999; padding: 4px 8px; }
table.qd td { border-bottom: 1px solid #e5e5e5; padding: 4px 8px; }
"""


def table(rows: list[dict[str, Any]], empty: str = "nothing yet") -> pn.viewable.Viewable:
    """Return `rows` as a table, or a line saying there is nothing."""
    if not rows:
        return pn.pane.Markdown(f"*{empty}*")
    import pandas as pd

    return pn.pane.DataFrame(pd.DataFrame(rows), sizing_mode="stretch_width", index=False)


def html_table(rows: list[dict[str, Any]] | str, empty: str = "nothing yet") -> str:
    """Return `rows` as an HTML table (values escaped), or a line saying there is nothing (or why, if a string)."""
    if isinstance(rows, str) or not rows:
        return f"<p><em>{html.escape(rows if isinstance(rows, str) and rows else empty)}</em></p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>"
                                    for c in columns) + "</tr>" for r in rows)
    return f'<table class="qd"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def downloads(labels: list[str]) -> pn.viewable.Viewable:
    """Return a row of download buttons for exports (`quantdesk.desk.DOWNLOADS` labels), built on click."""
    from quantdesk.desk import download, shared_ledger

    def make(label: str) -> pn.widgets.FileDownload:
        def build() -> str:
            # any logged-in user may download; the download is audited with the session's user
            return str(download(shared_ledger(), pn.state.user, label))

        return pn.widgets.FileDownload(callback=build, filename=label, label=f"Download {label}",
                                       button_type="light", embed=False)

    return pn.Row(*[make(label) for label in labels])
