"""Risk: exposure by asset and venue as bars, each limit as its use against the limit, denials over time
by code, and the trading state of every scope; the tables below give the exact figures."""

from __future__ import annotations

import panel as pn
from _charts import bars, limit_use, stacked_counts
from _tables import table
from _var_panels import var_panels

from quantdesk.desk import risk, shared_ledger


def page() -> pn.viewable.Viewable:
    ledger = shared_ledger()
    data = risk(ledger)
    exposure = data["exposure_bars"]
    charts: list[pn.viewable.Viewable] = []
    if exposure:
        charts.append(pn.pane.Bokeh(bars([r["label"] for r in exposure], [r["cost"] for r in exposure],
                                         title="Exposure by asset and venue (cost of the open position)",
                                         x_label=data["currency"] or "quote currency"), sizing_mode="stretch_width"))
    else:
        charts.append(pn.pane.Markdown("*No open positions: no exposure.*"))
    if data["limit_use"]:
        charts.append(pn.pane.Bokeh(limit_use(data["limit_use"]), sizing_mode="stretch_width"))
    else:
        charts.append(pn.pane.Markdown("*No limit configured to measure use against: `[risk.default]` in "
                                       "quantdesk.toml.*"))
    over_time = data["denials_over_time"]
    if over_time.height:
        charts.append(pn.pane.Bokeh(stacked_counts(over_time, title="Denials over time by code"),
                                    sizing_mode="stretch_width"))
    else:
        charts.append(pn.pane.Markdown("*No denials: the risk gate has refused nothing.*"))
    return pn.Column(
        "# Risk", *charts,
        "### Limits against current use", table(data["limits"], "no limits configured"),
        "### Denials by code", table(data["denials"], "no denials"),
        "### Exposure by asset and venue", table(data["exposure"], "no open positions"),
        "### Trading state per scope", table(data["states"], "every scope ACTIVE (no state set)"),
        var_panels(ledger),
        sizing_mode="stretch_width",
    )


if __name__.startswith("bokeh"):
    page().servable()
