"""Deployments: stages, states, code-hash pins and pending promotions, with Approve / Reject for
those whose role allows it (a different person than the requester; checked again on the server)."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import decide_promotion, deployments, request_promotion, shared_ledger


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
        decisions.append(pn.Row(pn.pane.Markdown(f"**{row['name']}** {row['pending']}"), reason, yes, no))
    shown = [{k: v for k, v in r.items() if k != "may_decide"} for r in rows]
    return pn.Column("# Deployments", table(shown, "no deployments yet: `quantdesk promote`"),
                     *(["### Waiting for your decision", *decisions] if decisions else []), message,
                     *_promote_form(message))


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
