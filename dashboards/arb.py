"""Arbitrage: the opportunities the scanner (`quantdesk arb scan|watch|triangles`) found and stored.

Open ones first (best edge first), then every recent episode with when it began and ended. Read
from the ledger once per change for every open session and redrawn without a reload. Nothing
here places an order: the scanner never sends one, and acting on an opportunity is a trader's call.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from _live import keep_current
from _tables import TABLE_CSS, html_table

from quantdesk.desk import desk_feed, shared_ledger
from quantdesk.desk.arb import arbitrage


def page() -> pn.viewable.Viewable:
    feed = desk_feed()
    summary = pn.pane.Markdown("", name="summary")
    tables = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TABLE_CSS])

    def draw(data: dict[str, Any]) -> None:
        count = len(data["open"])
        summary.object = (f"**{count} open opportunit{'y' if count == 1 else 'ies'}** — executable for the stored "
                          "size after depth, fees, lot/tick rounding and transfers; the scanner never sends orders.")
        tables.object = "".join([
            "<h3>Open now</h3>", html_table(data["open"], "no open opportunity"),
            "<h3>Recent episodes</h3>", html_table(data["recent"], "nothing found yet: `quantdesk arb scan`"),
        ])

    keep_current(lambda: feed.get("arb", feed.ledger_version(), lambda: arbitrage(shared_ledger())), draw)
    return pn.Column("# Arbitrage", summary, tables, sizing_mode="stretch_width")


if __name__.startswith("bokeh"):
    page().servable()
