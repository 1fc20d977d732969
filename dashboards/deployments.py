"""Deployments: stages, states, code-hash pins and pending promotions."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import deployments
from quantdesk.ledger import Ledger


def page() -> pn.viewable.Viewable:
    with Ledger() as ledger:
        rows = deployments(ledger, pn.state.user)
    return pn.Column("# Deployments", table(rows, "no deployments yet: `quantdesk promote`"))


if __name__.startswith("bokeh"):
    page().servable()
