"""Data health: lake coverage per series, gaps, and the quarantine by reason."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import data_health
from quantdesk.lake import Lake


def page() -> pn.viewable.Viewable:
    data = data_health(Lake())
    return pn.Column("# Data health", "### Coverage", table(data["coverage"], "the lake is empty"),
                     "### Quarantine", table(data["quarantine"], "no rejected rows"))


if __name__.startswith("bokeh"):
    page().servable()
