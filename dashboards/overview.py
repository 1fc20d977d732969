"""Overview: who is looking, trading states, PnL per deployment and for the desk, positions, venue
connectivity (last reconciliation), the latest flow runs, data freshness and the latest desk report."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import latest_desk_report, overview
from quantdesk.ledger import Ledger


def page() -> pn.viewable.Viewable:
    with Ledger() as ledger:
        data = overview(ledger, pn.state.user)
    states = ", ".join(f"{s['scope']}: {s['state']}" for s in data["states"]) or "global: ACTIVE"
    return pn.Column(
        f"# Overview — {data['user']} ({data['role']})",
        pn.pane.Markdown(f"**Trading states**: {states}"),
        "### Deployments", pn.pane.DataFrame(_frame(data["deployments"]), sizing_mode="stretch_width"),
        pn.pane.Markdown(f"**Desk PnL** (sum of deployments): {data['desk_pnl']}"),
        "### Positions", pn.pane.DataFrame(_frame(data["positions"]), sizing_mode="stretch_width"),
        "### Venues", table(data["venues"], "no venue configured: `quantdesk venue add`"),
        "### Latest flow runs", (pn.pane.Markdown(f"*{data['flows']}*") if isinstance(data["flows"], str)
                                 else table(data["flows"], "no deployments")),
        "### Data freshness", table(data["freshness"], "the lake is empty"),
        *_report(),
    )


def _report() -> list[pn.viewable.Viewable]:
    path = latest_desk_report()
    if path is None:
        return [pn.pane.Markdown("*no desk report yet: `quantdesk desk-report`*")]
    return ["### Desk report", pn.widgets.FileDownload(file=str(path), filename=path.name,
                                                       label=f"Download {path.name}", embed=False)]


def _frame(rows: list[dict[str, object]]) -> object:
    import pandas as pd

    return pd.DataFrame(rows)


if __name__.startswith("bokeh"):
    page().servable()
