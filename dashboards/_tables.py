"""Shared bits of the pages: rows to a table pane."""

from __future__ import annotations

from typing import Any

import panel as pn


def table(rows: list[dict[str, Any]], empty: str = "nothing yet") -> pn.viewable.Viewable:
    """Return `rows` as a table, or a line saying there is nothing."""
    if not rows:
        return pn.pane.Markdown(f"*{empty}*")
    import pandas as pd

    return pn.pane.DataFrame(pd.DataFrame(rows), sizing_mode="stretch_width", index=False)
