"""Overview: the desk at a glance. Stat cards (desk PnL today and in total, gross exposure, open orders,
the desk's VaR, the trading state), desk equity over time with one line per deployment, positions,
deployments, the latest fills, venue connectivity (last reconciliation), the latest flow runs, data freshness and the
latest desk report.

The page is desk-wide, the same for every user: read and drawn once per change of the ledger or
lake (`quantdesk.desk.desk_feed`), and every open session shows the change within a fraction of
a second, without a reload. The user's own part is in the template's header.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
from _charts import lines
from _live import keep_current
from _tables import DESK_CSS, cards, html_table

from quantdesk.core import display
from quantdesk.desk import desk_feed, latest_desk_report


def page() -> pn.viewable.Viewable:
    feed = desk_feed()
    desk = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[DESK_CSS], name="desk")
    stats = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[DESK_CSS], name="stats")
    chart = pn.pane.Bokeh(sizing_mode="stretch_width", min_height=300)
    empty = pn.pane.Markdown("", name="equity-note")
    drawn: dict[str, Any] = {"names": None}

    def draw(data: dict[str, Any]) -> None:
        stats.object = data["cards"]
        desk.object = data["html"]
        names = tuple(sorted(data["equity"]))
        if not names:
            chart.object, chart.visible, drawn["names"] = None, False, None
            empty.object = "*No deployment has run yet: equity lines appear once a paper or live deployment trades.*"
            return
        empty.object = ""
        chart.visible = True
        if drawn["names"] == names and chart.object is not None:  # the same lines: swap their data in place
            for renderer in chart.object.renderers:
                name = renderer.data_source.data["name"][0] if len(renderer.data_source.data["name"]) else None
                if name in data["equity"]:
                    renderer.data_source.data = _line_data(name, data["equity"][name])
            return
        chart.object = lines(data["equity"], title="Desk equity by deployment", y_label=data["unit"])
        drawn["names"] = names

    keep_current(lambda: feed.derive("overview.page", feed.overview(), _content), draw)
    return pn.Column("# Overview", stats, "### Desk equity", empty, chart, desk, *_report(),
                     sizing_mode="stretch_width")


def _line_data(name: str, frame: Any) -> dict[str, Any]:
    from _charts import naive_utc

    return {"ts": naive_utc(frame.get_column("ts")), "y": frame.get_column("equity").to_numpy(),
            "name": [name] * frame.height}


def _content(data: dict[str, Any]) -> dict[str, Any]:
    """The desk-wide part drawn once per change for every session: cards, tables, the equity lines."""
    stats = data["stats"]
    currency = stats["currency"]
    today, total = stats["pnl_today"], stats["pnl_total"]
    tone = {True: "|qd-up", False: "|qd-down"}
    state = data["state"]
    not_active = [s["scope"] for s in data["states"] if s["state"] != "ACTIVE" and s["scope"] != "global"]
    items = [
        ("Desk PnL today", display.signed_money(today, currency), ("since 00:00 UTC" + tone[today >= 0])
         if today is not None else "nothing traded today"),
        ("Desk PnL total", display.signed_money(total, currency), (f"{stats['deployments']} deployment{'' if stats['deployments'] == 1 else 's'}"
                                                                  + (tone[total >= 0] if total is not None else ""))),
        ("Gross exposure", display.money(stats["gross_exposure"], currency), "cost of open positions"),
        ("Open orders", f"{stats['open_orders']:,}", "working or in flight"),
        ("Value at risk", display.money(stats["var"], currency), "desk VaR (risk page)" if stats["var"] is not None
         else "open the risk page to compute it"),
        ("Trading state", state, ", ".join(not_active) + " not active" if not_active else "every scope"),
    ]
    tables = "".join([
        "<h3>Positions</h3>", html_table(data["positions"], "no open positions"),
        "<h3>Deployments</h3>", html_table(data["deployments"], "no deployments yet"),
        f"<p><strong>Desk PnL</strong> (sum of deployments): {html.escape(data['desk_pnl'])}</p>",
        "<h3>Latest fills</h3>", html_table(data["fills"], "no fills yet"),
        "<h3>Trading states</h3>", html_table(data["states"], "every scope ACTIVE"),
        "<h3>Venues</h3>", html_table(data["venues"], "no venue configured: quantdesk venue add"),
        "<h3>Latest flow runs</h3>", html_table(data["flows"], "no deployments"),
        "<h3>Data freshness</h3>", html_table(data["freshness"], "the lake is empty"),
    ])
    return {"cards": cards(items), "html": tables, "equity": data["equity"], "unit": currency or "equity"}


def _report() -> list[pn.viewable.Viewable]:
    path = latest_desk_report()
    if path is None:
        return [pn.pane.Markdown("*No desk report yet: `quantdesk desk-report`.*")]
    return ["### Desk report", pn.widgets.FileDownload(file=str(path), filename=path.name,
                                                       label=f"Download {path.name}", embed=False)]


if __name__.startswith("bokeh"):
    page().servable()
