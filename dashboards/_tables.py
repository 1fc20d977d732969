"""Shared bits of the pages: rows to readable HTML tables, stat cards, download buttons.

Every cell goes through `quantdesk.core.display.cell` (the formatting the CLI tables and the
reports use too): no `None`, `NaN` or `True` on a page, times as `2026-12-07 14:02 UTC`, and
number columns right-aligned while text stays left.
"""

from __future__ import annotations

import html
import re
from typing import Any

import panel as pn

from quantdesk.core.display import MISSING, cell

DESK_CSS = "/assets/desk.css"  # served by the dashboard server (static_dirs); loaded inside each pane's shadow root
TABLE_CSS = DESK_CSS  # the name the pages used before the shared stylesheet

_NUMBER = re.compile(r"^[+-]?[\d,]*\.?\d+(%| [A-Z0-9]{2,10})?$|^[+-]?∞$")


def _is_number_column(values: list[str]) -> bool:
    present = [v for v in values if v != MISSING]
    return bool(present) and all(_NUMBER.match(v) for v in present)


def html_table(rows: list[dict[str, Any]] | str, empty: str = "nothing yet") -> str:
    """Return `rows` as an HTML table of readable cells (escaped), or a line saying there is nothing (or why)."""
    if isinstance(rows, str) or not rows:
        return f"<p><em>{html.escape(rows if isinstance(rows, str) and rows else empty)}</em></p>"
    columns = list(rows[0])
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    numeric = [_is_number_column([row[i] for row in cells]) for i in range(len(columns))]
    head = "".join(f'<th{" class=qd-num" if numeric[i] else ""}>{html.escape(_header(c))}</th>'
                   for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f'<td{" class=qd-num" if numeric[i] else ""}>{html.escape(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in cells)
    return f'<div class="qd-scroll"><table class="qd"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _header(name: str) -> str:
    return name.replace("_", " ")


def table(rows: list[dict[str, Any]], empty: str = "nothing yet") -> pn.viewable.Viewable:
    """Return `rows` as a readable table pane, or a line saying there is nothing."""
    return pn.pane.HTML(html_table(rows, empty), sizing_mode="stretch_width", stylesheets=[DESK_CSS])


def cards(items: list[tuple[str, str, str]]) -> str:
    """Return stat cards as HTML: (label, value, note or css class 'qd-up'/'qd-down' after a '|')."""
    out = []
    for label, value, note in items:
        note_text, _, tone = note.partition("|")
        out.append(f'<div class="qd-card"><div class="qd-card-label">{html.escape(label)}</div>'
                   f'<div class="qd-card-value {html.escape(tone)}">{html.escape(value)}</div>'
                   f'<div class="qd-card-note">{html.escape(note_text) or "&nbsp;"}</div></div>')
    return f'<div class="qd-cards">{"".join(out)}</div>'


def downloads(labels: list[str]) -> pn.viewable.Viewable:
    """Return a row of download buttons for exports (`quantdesk.desk.DOWNLOADS` labels), built on click.

    Only for a user whose role may export; `download` asks the policy again at the click.
    """
    from quantdesk.desk import download, shared_ledger
    from quantdesk.identity import get_user
    from quantdesk.identity.policy import Action

    if not get_user(shared_ledger(), pn.state.user).may(Action.EXPORT):
        return pn.pane.Markdown("*Exports need the researcher, trader or admin role.*")

    def make(label: str) -> pn.widgets.FileDownload:
        def build() -> str:
            # the policy is asked at the click; the download is audited with the session's user
            return str(download(shared_ledger(), pn.state.user, label))

        return pn.widgets.FileDownload(callback=build, filename=label, label=f"Download {label}",
                                       button_type="light", embed=False)

    return pn.FlexBox(*[make(label) for label in labels])
