"""Tables for printed reports: readable cells, no index column, and never wider than the page.

A wide table is split into parts of at most `max_columns` columns, each repeating the first
(key) column, instead of running off the page behind a scrollbar; headers read as words
(`missing bars`, not `missing_bars`); every cell goes through `quantdesk.core.display`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from quantdesk.core.display import cell

__all__ = ["REPORT_CSS", "header", "report_table"]

# nbconvert wraps an output in a box that scrolls sideways; on paper that cuts columns off
REPORT_CSS = """<style>
table.qd-report { border-collapse: collapse; width: 100%; table-layout: auto; margin: 4px 0 12px; font-size: 11px; }
table.qd-report th { text-align: left; border-bottom: 1px solid #888; padding: 3px 6px; white-space: normal; }
table.qd-report td { border-bottom: 1px solid #ddd; padding: 3px 6px; overflow-wrap: anywhere; }
table.qd-report td.num { text-align: right; white-space: nowrap; }
.jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow-x: visible !important; max-width: 100% !important; }
@media print { table.qd-report { page-break-inside: auto; } table.qd-report tr { page-break-inside: avoid; } }
</style>"""


def header(name: str) -> str:
    """Return a column name as a header people read (`missing_bars` -> `missing bars`)."""
    return name.replace("_", " ")


def report_table(rows: Sequence[Mapping[str, Any]], *, max_columns: int = 6, empty: str = "nothing") -> str:
    """Return `rows` as HTML table(s) of at most `max_columns` columns each (the first column repeated)."""
    if not rows:
        return f"<p><em>{html.escape(empty)}</em></p>"
    columns = list(rows[0])
    key, rest = columns[0], columns[1:]
    step = max(1, max_columns - 1)
    parts = [[key, *rest[i:i + step]] for i in range(0, len(rest), step)] or [[key]]
    return "".join(_one(rows, part) for part in parts)


def _one(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> str:
    numeric = {c for c in columns if all(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool)
                                         or r.get(c) is None for r in rows)
               and any(r.get(c) is not None for r in rows)}
    head = "".join(f"<th>{html.escape(header(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td{" class=num" if c in numeric else ""}>{html.escape(cell(r.get(c)))}</td>'
                                    for c in columns) + "</tr>" for r in rows)
    return f'<table class="qd-report"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
