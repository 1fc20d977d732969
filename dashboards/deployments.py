"""Deployments: stages, states, code-hash pins and pending promotions, with Approve / Reject for
those whose role allows it (a different person than the requester; checked again on the server)."""

from __future__ import annotations

from typing import Any

import panel as pn
from _charts import against_backtest
from _tables import table

from quantdesk.core import display
from quantdesk.desk import (
    decide_promotion,
    deployments,
    desk_feed,
    request_promotion,
    shared_ledger,
)


def page() -> pn.viewable.Viewable:
    ledger = shared_ledger()
    rows = deployments(ledger, pn.state.user)
    message = pn.pane.Markdown("", name="message")
    decisions: list[pn.viewable.Viewable] = []
    for row in rows:
        if not row["may_decide"]:
            continue
        reason = pn.widgets.TextInput(placeholder="reason (required to reject)", width=280)
        yes = pn.widgets.Button(name=f"Approve {row['name']}", button_type="success")
        no = pn.widgets.Button(name=f"Reject {row['name']}", button_type="danger")

        def decide(approve: bool, name: str = row["name"], why: pn.widgets.TextInput = reason) -> None:
            # the session's own user, never a value from the browser
            message.object = decide_promotion(shared_ledger(), pn.state.user, name, approve=approve,
                                              reason=why.value).message

        yes.on_click(lambda _e, f=decide: f(True))
        no.on_click(lambda _e, f=decide: f(False))
        decisions.append(pn.FlexBox(pn.pane.Markdown(f"**{row['name']}** {row['pending']}"), reason, yes, no))
    shown = [{k: v for k, v in r.items() if k != "may_decide"} for r in rows]
    return pn.Column("# Deployments", table(shown, "no deployments yet: `quantdesk promote`"),
                     *(["### Waiting for your decision", *decisions] if decisions else []), message,
                     # drift backtests each window: drawn after the page shows, not before its first paint
                     pn.panel(lambda: pn.Column(*_against_backtest(), sizing_mode="stretch_width"), defer_load=True,
                              loading_indicator=True, sizing_mode="stretch_width"),
                     *_promote_form(message), sizing_mode="stretch_width")


def _against_backtest() -> list[pn.viewable.Viewable]:
    """Each paper or live deployment's equity beside its backtest's over the same bars, and the drift in bps."""
    found = desk_feed().drift().value
    if not found:
        return []
    parts: list[Any] = ["### Equity against the backtest"]
    for row in found:
        if row["curves"] is None:
            parts.append(pn.pane.Markdown(f"**{row['deployment']}** ({row['stage']}): nothing to compare yet "
                                          f"({row['reason']})"))
            continue
        unit = row["currency"] or "equity"
        parts.append(pn.pane.Markdown(
            f"**{row['deployment']}** ({row['stage']}): drift **{display.number(row['drift_bps'], 1)} bps** over "
            f"{row['matched']} matched trade(s), equity tracking error {display.number(row['tracking_error_bps'], 1)} "
            f"bps; PnL {display.signed_money(row['actual_pnl'], row['currency'])} against the backtest's "
            f"{display.signed_money(row['backtest_pnl'], row['currency'])}"))
        parts.append(pn.pane.Bokeh(against_backtest(row["curves"], title=f"{row['deployment']}: equity against "
                                                    "its backtest", unit=unit), sizing_mode="stretch_width"))
    return parts


def _promote_form(message: pn.pane.Markdown) -> list[pn.viewable.Viewable]:
    """Promote a backtested strategy (every gate checked on the server; roles decide who may)."""
    from quantdesk.backtest import list_runs

    runs = list_runs("backtest")
    if runs.is_empty():
        return []
    run = pn.widgets.Select(name="evidence run", options=runs.get_column("run_id").to_list(), width=340)
    strategy = pn.widgets.TextInput(name="strategy", placeholder="sma_cross or path.py:Class", width=220)
    stage = pn.widgets.RadioButtonGroup(name="to", options=["paper", "live"], value="paper")
    name = pn.widgets.TextInput(name="deployment name", placeholder="e.g. sma-btc", width=160)
    button = pn.widgets.Button(name="Promote", button_type="primary")

    def go(_event: object) -> None:
        ledger = shared_ledger()
        message.object = request_promotion(ledger, pn.state.user, strategy=strategy.value, run_id=run.value,
                                           to=stage.value, name=name.value).message

    button.on_click(go)
    return ["### Promote a backtest", pn.Row(run, strategy, name), pn.Row(stage, button)]


if __name__.startswith("bokeh"):
    page().servable()
