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


def downloads(labels: list[str]) -> pn.viewable.Viewable:
    """Return a row of download buttons for exports (`quantdesk.desk.DOWNLOADS` labels), built on click."""
    from quantdesk.desk import download
    from quantdesk.ledger import Ledger

    def make(label: str) -> pn.widgets.FileDownload:
        def build() -> str:
            with Ledger() as ledger:  # any logged-in user may download; the download is audited
                return str(download(ledger, pn.state.user, label))

        return pn.widgets.FileDownload(callback=build, filename=label, label=f"Download {label}",
                                       button_type="light", embed=False)

    return pn.Row(*[make(label) for label in labels])
