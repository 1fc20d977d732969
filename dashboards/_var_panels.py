"""The risk page's VaR panels (issue 25): what the desk can lose, whether its VaR has been honest,
and what the crashes would do to it. Data from `quantdesk.desk.var_page.var_risk`; this only draws.

- VaR and ES of the desk and of each deployment, with the contributions that add up to them;
- the VaR series against the realised daily P&L: exceptions marked, the traffic-light zone named;
- the stress table, liquidated positions highlighted.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

__all__ = ["var_panels"]

CSS = """
table.qd { border-collapse: collapse; width: 100%; font-size: 13px; margin-bottom: 8px; }
table.qd th { text-align: left; border-bottom: 1px solid #999; padding: 4px 8px; }
table.qd td { border-bottom: 1px solid #e5e5e5; padding: 4px 8px; }
table.qd tr.liquidated td { background: #fde2e1; color: #9b1c1c; font-weight: 600; }
span.zone-green { color: #2a9d8f; font-weight: 700; } span.zone-yellow { color: #b58900; font-weight: 700; }
span.zone-red { color: #c0392b; font-weight: 700; }
"""


def _money(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def _table(columns: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(f'<tr class="{(classes or [""] * len(rows))[i]}">'
                   + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for i, row in enumerate(rows))
    return f'<table class="qd"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _var_html(data: dict[str, Any]) -> str:
    desk = data["desk"]
    if desk is None:
        return f"<p><em>{html.escape(data['note'] or 'no VaR to show')}</em></p>"
    share = "" if desk["var_pct_of_equity"] is None else f" ({desk['var_pct_of_equity']:.2f} % of equity)"
    parts = [f"<p><b>Desk</b>: {desk['horizon']} {desk['confidence']:.4g} {html.escape(desk['method'])} VaR "
             f"<b>{_money(desk['var_quote'])}</b>{share}, ES <b>{_money(desk['es_quote'])}</b>, on "
             f"{desk['observations']} days of returns to {desk['as_of']}; gross {_money(desk['gross_quote'])}</p>",
             "<p>Contributions by deployment (they add up to the desk's VaR and ES):</p>",
             _table(["deployment", "VaR", "ES"], [[c["name"], _money(c["var_quote"]), _money(c["es_quote"])]
                                                  for c in desk["contributions"]])]
    for d in data["deployments"]:
        share = "" if d["var_pct_of_equity"] is None else f", {d['var_pct_of_equity']:.2f} % of its equity"
        parts.append(f"<p><b>{html.escape(d['name'])}</b>: VaR {_money(d['var_quote'])}, ES "
                     f"{_money(d['es_quote'])}{share}</p>")
        parts.append(_table(["asset", "VaR", "ES"], [[c["name"], _money(c["var_quote"]), _money(c["es_quote"])]
                                                     for c in d["contributions"]]))
    return "".join(parts)


def _backtest_chart(data: dict[str, Any]) -> pn.viewable.Viewable:
    test = data["backtest"]
    if test is None:
        return pn.pane.Markdown(f"*no VaR series to backtest yet: {data['backtest_note'] or 'no positions'}*")
    days = np.array([d["day"] for d in test["days"]], dtype="datetime64[ms]")  # Bokeh draws datetime64
    var = [-float(d["var_quote"]) for d in test["days"]]
    pnl = [float(d["pnl_quote"]) for d in test["days"]]
    hit = [bool(d["exception"]) for d in test["days"]]
    source = ColumnDataSource({"day": days, "minus_var": var, "pnl": pnl,
                               "color": ["#c0392b" if h else "#457b9d" for h in hit]})
    fig = figure(x_axis_type="datetime", height=300, sizing_mode="stretch_width", tools="pan,wheel_zoom,reset",
                 title=f"VaR ({test['source']}) against the realised daily P&L: {test['exceptions']} exceptions in "
                       f"{test['observations']} days, zone {test['zone']}")
    fig.line("day", "minus_var", source=source, color="#e76f51", line_width=2, legend_label="−VaR")
    fig.scatter("day", "pnl", source=source, color="color", size=5, legend_label="daily P&L")
    mask = np.asarray(hit, dtype=bool)
    exceptions = ColumnDataSource({"day": days[mask], "pnl": np.asarray(pnl)[mask]})
    fig.scatter("day", "pnl", source=exceptions, marker="x", size=12, color="#c0392b", line_width=2,
                legend_label="exception")
    fig.add_tools(HoverTool(tooltips=[("day", "@day{%F}"), ("P&L", "@pnl{0,0.00}"), ("−VaR", "@minus_var{0,0.00}")],
                            formatters={"@day": "datetime"}))
    fig.legend.location = "bottom_left"
    zone = html.escape(test["zone"])
    summary = pn.pane.HTML(
        f'<p>Traffic light: <span class="zone-{zone}">{zone.upper()}</span> ({test["exceptions"]} exceptions, '
        f'{test["expected_exceptions"]:.1f} expected); Kupiec POF p {test["pof"]["p_value"]:.3f}; Christoffersen '
        f'independence p {test["christoffersen"]["independence"]["p_value"]:.3f}, conditional coverage p '
        f'{test["christoffersen"]["conditional_coverage"]["p_value"]:.3f}</p>', stylesheets=[CSS],
        sizing_mode="stretch_width")
    return pn.Column(summary, pn.pane.Bokeh(fig, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def _stress_html(data: dict[str, Any]) -> str:
    if not data["stress"]:
        return f"<p><em>{html.escape(data.get('stress_note') or 'no stress scenarios run')}</em></p>"
    rows, classes = [], []
    for s in data["stress"]:
        rows.append([s["scenario"], s["kind"], _money(s["pnl_quote"]) if s["available"] else "not in the lake",
                     s["liquidations"], _money(s["margin_lost_quote"]), s["detail"]])
        classes.append("liquidated" if s["liquidations"] else "")
        for p in s["positions"]:
            if p["liquidated"]:
                rows.append([f"  ↳ {s['scenario']}", "LIQUIDATED", _money(p["pnl_quote"]), p["symbol"],
                             _money(p["margin_lost_quote"]),
                             f"{p['deployment']} on {p['venue']}: liquidation price {p['liquidation_price']:.6g}"])
                classes.append("liquidated")
    return _table(["scenario", "kind", "desk P&L", "liquidations", "margin lost", "detail"], rows, classes)


def var_panels(ledger: Any) -> pn.viewable.Viewable:
    """Return the VaR, backtest and stress panels of the risk page."""
    from quantdesk.desk.var_page import var_risk

    data = var_risk(ledger)
    return pn.Column(
        "### Value at risk and expected shortfall",
        pn.pane.HTML(_var_html(data), stylesheets=[CSS], sizing_mode="stretch_width"),
        "### VaR against realised P&L",
        _backtest_chart(data),
        "### Stress tests",
        pn.pane.HTML(_stress_html(data), stylesheets=[CSS], sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
