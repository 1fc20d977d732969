"""Trading: the kill switch, a manual order ticket, orders and risk events. The buttons work only for
traders and admins (disabled for anyone else), and the server asks the policy again on every click
(`quantdesk.desk.halt`, `place_order`): a click forged from another session is refused and audited.

The state and the tables are the desk's (the same for every user), read once per ledger change
and shown in every open session without a reload; the buttons are the session's own user's."""

from __future__ import annotations

from typing import Any

import panel as pn
from _charts import candles_with_fills
from _live import keep_current
from _tables import DESK_CSS, downloads, html_table

from quantdesk.desk import desk_feed, halt, place_order, resume, shared_ledger, trading_controls
from quantdesk.risk import GLOBAL_SCOPE


def page() -> pn.viewable.Viewable:
    user = pn.state.user
    # the session's own rights; a click is checked on the server again (quantdesk.desk.halt, place_order)
    data = trading_controls(shared_ledger(), user)
    state = pn.pane.Markdown("", name="state")
    message = pn.pane.Markdown("")
    tables = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[DESK_CSS])
    feed = desk_feed()
    symbols = sorted({sym for _ex, sym, _tf in feed.lake.series()})
    pick = pn.widgets.Select(name="symbol", options=symbols, value=symbols[0] if symbols else None, width=200)
    chart = pn.pane.Bokeh(sizing_mode="stretch_width", min_height=380)
    note = pn.pane.Markdown("")

    def draw(desk: dict[str, Any]) -> None:
        state.object = f"## Trading state: **{desk['state']}**"
        tables.object = desk["html"]
        traded = [s for s in desk["symbols"] if s not in pick.options]
        if traded:
            pick.options = sorted([*pick.options, *traded])
        if desk["symbols"] and pick.value not in desk["symbols"] and not drawn["picked"]:
            drawn["auto"] = True
            pick.value = desk["symbols"][0]  # the symbol the desk traded, until the user picks one
            drawn["auto"] = False
        draw_chart()

    drawn = {"picked": False, "auto": False}

    def draw_chart() -> None:
        if not pick.value:
            chart.visible, note.object = False, "*The lake is empty: no candles to draw fills on.*"
            return
        data = feed.fills_chart(pick.value).value
        if data["candles"].is_empty():
            chart.visible, note.object = False, f"*No {pick.value} candles in the lake.*"
            return
        chart.object, chart.visible = candles_with_fills(data), True
        note.object = (f"{len(data['fills'])} fill(s) of {pick.value} marked on the candles" if data["fills"]
                       else f"*No fills of {pick.value} yet: the candles alone.*")

    def picked(_event: object) -> None:
        if not drawn["auto"]:
            drawn["picked"] = True
            draw_chart()

    pick.param.watch(picked, "value")
    keep_current(lambda: feed.derive("trading.html", feed.trading(), _with_html), draw)

    def act(action: Any) -> None:
        outcome = action(shared_ledger(), pn.state.user)  # the session's own user, never a client value
        message.object = outcome.message
        state.object = f"## Trading state: **{shared_ledger().get_trading_state(GLOBAL_SCOPE)}**"

    # shown to everyone so a viewer sees the kill switch exists, usable only with the role; the
    # server decides again on the click, whatever the browser says about `disabled`
    locked = not data["can_halt"]
    stop = pn.widgets.Button(name="Halt trading", button_type="danger", disabled=locked,
                             description="needs the trader or admin role" if locked else None)
    go = pn.widgets.Button(name="Resume trading", button_type="success", disabled=locked,
                           description="needs the trader or admin role" if locked else None)
    stop.on_click(lambda _event: act(halt))
    go.on_click(lambda _event: act(resume))
    controls: list[pn.viewable.Viewable] = [pn.Row(stop, go)]
    if data["can_order"] and data["venues"]:
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
        controls.append(pn.Column("### Order ticket", pn.FlexBox(venue, symbol, qty, price), pn.FlexBox(side, kind, send)))
    return pn.Column(
        "# Trading", state, *controls, message, "### Fills on the candles", pick, note, chart,
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
    return {"state": desk["state"], "html": blocks, "symbols": desk["symbols"]}


if __name__.startswith("bokeh"):
    page().servable()
