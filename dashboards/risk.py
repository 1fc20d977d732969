"""Risk: trading state per scope, limits against current use, denials by code, exposure by asset and venue."""

from __future__ import annotations

import panel as pn
from _tables import table
from _var_panels import var_panels

from quantdesk.desk import risk, shared_ledger


def page() -> pn.viewable.Viewable:
    ledger = shared_ledger()
    data = risk(ledger)
    return pn.Column(
        "# Risk",
        "### Trading state per scope", table(data["states"], "every scope ACTIVE (no state set)"),
        "### Limits against current use", table(data["limits"], "no limits configured"),
        "### Denials by code", table(data["denials"], "no denials"),
        "### Exposure by asset and venue", table(data["exposure"], "no open positions"),
        var_panels(ledger),
        sizing_mode="stretch_width",
    )


if __name__.startswith("bokeh"):
    page().servable()
