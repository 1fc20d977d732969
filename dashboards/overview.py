"""Overview: who is looking, trading states, deployments and positions."""

from __future__ import annotations

import panel as pn

from quantdesk.desk import overview
from quantdesk.ledger import Ledger


def page() -> pn.viewable.Viewable:
    with Ledger() as ledger:
        data = overview(ledger, pn.state.user)
    states = ", ".join(f"{s['scope']}: {s['state']}" for s in data["states"]) or "global: ACTIVE"
    return pn.Column(
        f"# Overview — {data['user']} ({data['role']})",
        pn.pane.Markdown(f"**Trading states**: {states}"),
        "### Deployments", pn.pane.DataFrame(_frame(data["deployments"]), sizing_mode="stretch_width"),
        "### Positions", pn.pane.DataFrame(_frame(data["positions"]), sizing_mode="stretch_width"),
    )


def _frame(rows: list[dict[str, object]]) -> object:
    import pandas as pd

    return pd.DataFrame(rows)


if __name__.startswith("bokeh"):
    page().servable()
