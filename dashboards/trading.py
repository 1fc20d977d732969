"""Trading: the kill switch, a manual order ticket, orders and risk events. Buttons only for traders and
admins, and the server checks the role again on every click (`quantdesk.desk.halt`, `place_order`).

The state and the tables are the desk's (the same for every user), read once per ledger change
and shown in every open session without a reload; the buttons are the session's own user's."""

from __future__ import annotations

from typing import Any

import panel as pn
from _live import keep_current
from _tables import TABLE_CSS, downloads, html_table

from quantdesk.desk import desk_feed, halt, place_order, resume, shared_ledger, trading_controls
from quantdesk.risk import GLOBAL_SCOPE


def page() -> pn.viewable.Viewable:
    user = pn.state.user
    # the session's own rights; a click is checked on the server again (quantdesk.desk.halt, place_order)
    data = trading_controls(shared_ledger(), user)
    state = pn.pane.Markdown("", name="state")
    message = pn.pane.Markdown("")
    tables = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TABLE_CSS])
    feed = desk_feed()

    def draw(desk: dict[str, Any]) -> None:
        state.object = f"## Trading state: **{desk['state']}**"
        tables.object = desk["html"]

    keep_current(lambda: feed.derive("trading.html", feed.trading(), _with_html), draw)

    def act(action: Any) -> None:
        outcome = action(shared_ledger(), pn.state.user)  # the session's own user, never a client value
        message.object = outcome.message
        state.object = f"## Trading state: **{shared_ledger().get_trading_state(GLOBAL_SCOPE)}**"

    controls: list[pn.viewable.Viewable] = []
    if data["can_halt"]:
        stop = pn.widgets.Button(name="Halt trading", button_type="danger")
        go = pn.widgets.Button(name="Resume trading", button_type="success")
        stop.on_click(lambda _event: act(halt))
        go.on_click(lambda _event: act(resume))
        controls = [pn.Row(stop, go)]
        if data["venues"]:
            venue = pn.widgets.Select(name="venue", options=data["venues"], width=140)
            symbol = pn.widgets.TextInput(name="symbol", value="BTC/USDT", width=120)
            side = pn.widgets.RadioButtonGroup(name="side", options=["buy", "sell"], value="buy")
            kind = pn.widgets.RadioButtonGroup(name="type", options=["market", "limit"], value="market")
            qty = pn.widgets.TextInput(name="quantity", placeholder="e.g. 0.01", width=110)
            price = pn.widgets.TextInput(name="limit price", placeholder="limit only", width=110)
            send = pn.widgets.Button(name="Send order", button_type="primary")

            def order(_event: object) -> None:
                # the gate, the ledger and the venue decide; the audit names the session's user
                message.object = place_order(shared_ledger(), pn.state.user, venue=venue.value, symbol=symbol.value,
                                             side=side.value, qty=qty.value, order_type=kind.value,
                                             price=price.value or None).message

            send.on_click(order)
            controls.append(pn.Column("### Order ticket", pn.Row(venue, symbol, qty, price), pn.Row(side, kind, send)))
    return pn.Column(
        f"# Trading — {user}", state, *controls, message,
        downloads(["orders.xlsx", "fills.csv", "positions.csv", "risk-events.xlsx"]), tables,
        sizing_mode="stretch_width",
    )


def _with_html(desk: dict[str, Any]) -> dict[str, Any]:
    """The desk's tables as one HTML block (made once per ledger change for every session)."""
    blocks = "".join([
        "<h3>Orders</h3>", html_table(desk["orders"], "no orders yet"),
        "<h3>In flight (not final yet)</h3>", html_table(desk["in_flight"], "no order in flight"),
        "<h3>Fills</h3>", html_table(desk["fills"], "no fills yet"),
        "<h3>Positions</h3>", html_table(desk["positions"], "no open positions"),
        "<h3>Risk events and denials</h3>", html_table(desk["risk_events"], "no risk events yet"),
    ])
    return {"state": desk["state"], "html": blocks}


if __name__.startswith("bokeh"):
    page().servable()
