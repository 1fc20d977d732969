"""Overview: who is looking, trading states, PnL per deployment and for the desk, positions, the latest fills, venue
connectivity (last reconciliation), the latest flow runs, data freshness and the latest desk report.

The desk-wide part is the same for every user: it is read and drawn as HTML once per change
of the ledger or lake (`quantdesk.desk.desk_feed`) and every open session shows the change
within a fraction of a second, without a reload. Only the heading is the session's own.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
from _live import keep_current
from _tables import TABLE_CSS, html_table

from quantdesk.desk import desk_feed, latest_desk_report, shared_ledger
from quantdesk.identity import get_user


def page() -> pn.viewable.Viewable:
    me = get_user(shared_ledger(), pn.state.user)  # the session's own user, from the login cookie
    feed = desk_feed()
    desk = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TABLE_CSS], name="desk")

    def draw(content: str) -> None:
        desk.object = content

    keep_current(lambda: feed.derive("overview.html", feed.overview(), _html), draw)
    return pn.Column(f"# Overview — {me.name} ({me.role.value})", desk, *_report(), sizing_mode="stretch_width")


def _html(data: dict[str, Any]) -> str:
    """The desk-wide part of the page (no user in it: every session shows the same)."""
    states = ", ".join(f"{s['scope']}: {s['state']}" for s in data["states"]) or "global: ACTIVE"
    return "".join([
        f"<p><strong>Trading states</strong>: {html.escape(states)}</p>",
        "<h3>Deployments</h3>", html_table(data["deployments"], "no deployments yet"),
        f"<p><strong>Desk PnL</strong> (sum of deployments): {html.escape(data['desk_pnl'])}</p>",
        "<h3>Positions</h3>", html_table(data["positions"], "no open positions"),
        "<h3>Latest fills</h3>", html_table(data["fills"], "no fills yet"),
        "<h3>Venues</h3>", html_table(data["venues"], "no venue configured: quantdesk venue add"),
        "<h3>Latest flow runs</h3>", html_table(data["flows"], "no deployments"),
        "<h3>Data freshness</h3>", html_table(data["freshness"], "the lake is empty"),
    ])


def _report() -> list[pn.viewable.Viewable]:
    path = latest_desk_report()
    if path is None:
        return [pn.pane.Markdown("*no desk report yet: `quantdesk desk-report`*")]
    return ["### Desk report", pn.widgets.FileDownload(file=str(path), filename=path.name,
                                                       label=f"Download {path.name}", embed=False)]


if __name__.startswith("bokeh"):
    page().servable()
