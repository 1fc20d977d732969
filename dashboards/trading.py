"""Trading: the kill switch, a manual order ticket, orders and risk events. Buttons only for traders and
admins, and the server checks the role again on every click (`quantdesk.desk.halt`, `place_order`)."""

from __future__ import annotations

import panel as pn
from _tables import downloads, table

from quantdesk.desk import halt, place_order, resume, trading
from quantdesk.ledger import Ledger


def page() -> pn.viewable.Viewable:
    user = pn.state.user
    with Ledger() as ledger:
        data = trading(ledger, user)
    state = pn.pane.Markdown(f"## Trading state: **{data['state']}**", name="state")
    message = pn.pane.Markdown("")

    def act(action: object) -> None:
        with Ledger() as ledger:
            outcome = action(ledger, pn.state.user)  # the session's own user, never a client value
            message.object = outcome.message
            state.object = f"## Trading state: **{trading(ledger, pn.state.user)['state']}**"

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
                with Ledger() as ledger:  # the gate, the ledger and the venue decide; the audit names the user
                    message.object = place_order(ledger, pn.state.user, venue=venue.value, symbol=symbol.value,
                                                 side=side.value, qty=qty.value, order_type=kind.value,
                                                 price=price.value or None).message

            send.on_click(order)
            controls.append(pn.Column("### Order ticket", pn.Row(venue, symbol, qty, price), pn.Row(side, kind, send)))
    return pn.Column(
        f"# Trading — {user}", state, *controls, message,
        "### Orders", pn.pane.DataFrame(_frame(data["orders"]), sizing_mode="stretch_width"),
        downloads(["orders.xlsx", "fills.csv", "positions.csv", "risk-events.xlsx"]),
        "### In flight (not final yet)", table(data["in_flight"], "no order in flight"),
        "### Fills", table(data["fills"], "no fills yet"),
        "### Positions", table(data["positions"], "no open positions"),
        "### Risk events and denials", pn.pane.DataFrame(_frame(data["risk_events"]), sizing_mode="stretch_width"),
    )


def _frame(rows: list[dict[str, object]]) -> object:
    import pandas as pd

    return pd.DataFrame(rows)


if __name__.startswith("bokeh"):
    page().servable()
