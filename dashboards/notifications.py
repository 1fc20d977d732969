"""Notification center: every message with its delivery status, the channels (redacted), who is
subscribed to what, the templates in use, and a test message (traders and admins)."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import add_subscription, notifications, send_test, shared_ledger


def page() -> pn.viewable.Viewable:
    ledger = shared_ledger()
    data = notifications(ledger, pn.state.user)
    message = pn.pane.Markdown("", name="message")
    controls: list[pn.viewable.Viewable] = []
    if data["can_test"]:
        button = pn.widgets.Button(name="Send a test message", button_type="primary")

        def test(_event: object) -> None:
            ledger = shared_ledger()  # the session's own user; the role is checked again there
            message.object = send_test(ledger, pn.state.user)

        button.on_click(test)
        controls = [button, message]
    subscribe: list[pn.viewable.Viewable] = []
    if data["channels"]:
        who = pn.widgets.TextInput(name="user", value=data["user"], width=140, disabled=not data["can_subscribe_others"])
        channel = pn.widgets.Select(name="channel", options=[c["name"] for c in data["channels"]], width=160)
        event = pn.widgets.TextInput(name="event type", value="*", width=140)
        level = pn.widgets.Select(name="minimum level", options=["info", "warning", "error"], width=120)
        button = pn.widgets.Button(name="Subscribe", button_type="primary")
        said = pn.pane.Markdown("")

        def add(_event: object) -> None:
            ledger = shared_ledger()  # yourself, or anyone when you are an admin (checked on the server)
            said.object = add_subscription(ledger, pn.state.user, subscriber=who.value, channel=channel.value,
                                           event_type=event.value, min_level=level.value)

        button.on_click(add)
        subscribe = ["### Subscribe", pn.Row(who, channel, event, level, button), said]
    return pn.Column(
        "# Notifications", *controls,
        "### History (newest first)", table(data["history"], "no messages yet"),
        "### Channels", table(data["channels"], "no stored channel: `quantdesk notify channel add NAME`"),
        "### Subscriptions", table(data["subscriptions"], "no subscriptions: every channel gets every event"),
        *subscribe,
        "### Templates", table(data["templates"]),
        sizing_mode="stretch_width",
    )


if __name__.startswith("bokeh"):
    page().servable()
