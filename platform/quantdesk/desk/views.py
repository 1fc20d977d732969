"""Data and actions behind the dashboards; every action checks the role on the server and is audited.

A page disables buttons a role may not use, but that is a courtesy: the action functions here
ask the policy (`quantdesk.identity.policy.authorize`, via "dashboard") at the moment of the
click, so an event forged from a viewer's session, or sent by a user disabled since the page
opened, is refused and audited all the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.core import display
from quantdesk.core.errors import PermissionDeniedError, PromotionError, QuantdeskError
from quantdesk.core.types import TradingState
from quantdesk.identity import get_user
from quantdesk.identity.policy import Action, authorize, resume_action
from quantdesk.ledger import Ledger
from quantdesk.risk import GLOBAL_SCOPE

__all__ = ["DeskAction", "admin", "data_health", "decide_promotion", "deployments", "desk_overview", "desk_trading", "desk_var", "halt",
           "lake_freshness", "overview", "place_order", "request_promotion", "resume", "trading", "trading_controls"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskAction:
    """The outcome of a button: done or refused, and a line for the page."""

    ok: bool
    message: str


def overview(ledger: Ledger, user: str) -> dict[str, Any]:
    """Return the overview's content: who is looking, trading states, deployments, positions."""
    me = get_user(ledger, user)
    return {"user": me.name, "role": me.role.value, **desk_overview(ledger)}


def desk_overview(ledger: Ledger, *, lake: Any = None, freshness: list[dict[str, Any]] | None = None,
                  equity: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Return the overview's desk-wide part, the same for every user (sessions share it: no user in it).

    `freshness`: the lake's part (`lake_freshness`) when the caller holds it, else read from `lake`.
    `equity`: each deployment's equity line (`quantdesk.desk.pictures.desk_equity`), for PnL today.
    Rows are readable (`quantdesk.core.display`); `stats` holds the figures of the stat cards.
    """
    from quantdesk.desk.pictures import pnl_today
    from quantdesk.promotion import list_deployments

    found = list_deployments(ledger)
    positions = [p for p in ledger.positions() if p.qty]
    currency = _desk_currency(found, positions)
    total = sum((d.pnl for d in found if d.pnl is not None), Decimal(0))
    today = pnl_today(equity or {}, now or ledger._now())
    records = ledger.trading_states()
    states = {s.scope: TradingState(s.state).value for s in records}
    return {
        "states": [{"scope": s.scope, "state": states[s.scope], "reason": s.reason} for s in records],
        "state": states.get(GLOBAL_SCOPE, TradingState.ACTIVE.value),
        "stats": {
            "pnl_today": today, "pnl_total": float(total) if any(d.pnl is not None for d in found) else None,
            "gross_exposure": float(sum((abs(p.cost) for p in positions), Decimal(0))),
            "open_orders": sum(ledger.active_order_counts().values()), "var": desk_var(ledger),
            "currency": currency, "deployments": len(found),
            "running": sum(1 for d in found if d.state.value == "running"),
        },
        "deployments": [{"deployment": d.name, "stage": d.stage.value, "state": d.state.value,
                         "pnl": display.signed_money(d.pnl, _quote(d.symbols)), "last bar": d.last_bar_ts}
                        for d in found],
        "positions": [{"venue": p.venue, "symbol": p.symbol, "quantity": display.quantity(p.qty),
                       "cost": display.money(p.cost, display.quote_currency(p.symbol))} for p in positions],
        "desk_pnl": display.signed_money(total, currency),
        "fills": latest_fills(ledger),
        "venues": _venues(ledger),
        "freshness": lake_freshness(lake) if freshness is None else freshness,
        "flows": _flow_runs(),
    }


def latest_fills(ledger: Ledger, limit: int = 10) -> list[dict[str, Any]]:
    """The desk's newest fills, newest first, each with the deployment whose order it filled (a live run's trades)."""
    rows = []
    for f in reversed(ledger.fills(limit=limit)):
        order = ledger.order(f.client_order_id) if f.client_order_id else None
        rows.append({"time": display.timestamp(f.ts, seconds=True),
                     "deployment": (order.deployment if order else None) or "manual",
                     "venue": f.venue, "symbol": f.symbol, "side": str(f.side), "quantity": display.quantity(f.qty),
                     "price": display.money(f.price, display.quote_currency(f.symbol))})
    return rows


def desk_var(ledger: Ledger) -> float | None:
    """Return the desk's value at risk in the quote currency as the risk page last computed it, or None.

    The overview never computes VaR itself (the first computation takes seconds): it shows the figure of
    `quantdesk.desk.var_page` (issue 25) once the risk page has read it in this server process.
    """
    from quantdesk.desk.var_page import cached_var_risk

    found = cached_var_risk(ledger)
    desk = None if found is None else found.get("desk")
    return None if not desk or desk.get("var_quote") is None else float(desk["var_quote"])


def _quote(symbols: Any) -> str | None:
    return display.quote_currency(symbols[0]) if symbols else None


def _desk_currency(found: list[Any], positions: list[Any]) -> str | None:
    """The quote currency the desk's figures are in, when every deployment and position agrees on one."""
    currencies = {_quote(d.symbols) for d in found} | {display.quote_currency(p.symbol) for p in positions}
    currencies.discard(None)
    return currencies.pop() if len(currencies) == 1 else None


def _venues(ledger: Ledger) -> list[dict[str, Any]]:
    """Configured venues and when each last reconciled (and whether ledger and venue agreed)."""
    from quantdesk.core.settings import get_settings

    last: dict[str, Any] = {}
    for e in ledger.audit_log(action="broker.reconcile", limit=500):
        last[str(e.payload.get("venue", ""))] = e
    rows = []
    for name in sorted(get_settings().venues):
        e = last.get(name)
        rows.append({"venue": name, "last reconciliation": e.ts if e else "never",
                     "agreed": None if e is None else bool(e.payload.get("agreed", True))})
    return rows


def lake_freshness(lake: Any = None) -> list[dict[str, Any]]:
    """The newest candle of each series in the lake."""
    from quantdesk.lake import Lake

    coverage = (lake or Lake()).coverage()
    if not coverage.height:
        return []
    return [{"exchange": r["exchange"], "symbol": r["symbol"], "timeframe": r["timeframe"],
             "newest": r["last"]}
            for r in coverage.select("exchange", "symbol", "timeframe", "last").to_dicts()]


FLOW_RUNS_TTL_S = 15.0  # every overview session would otherwise ask the Prefect API again
_flow_runs_cache: tuple[float, list[dict[str, Any]] | str] | None = None


def _flow_runs() -> list[dict[str, Any]] | str:
    """The last run of each Prefect deployment (at most 15 s old), or why there is none to show."""
    global _flow_runs_cache
    now = time.monotonic()
    if _flow_runs_cache is not None and now - _flow_runs_cache[0] < FLOW_RUNS_TTL_S:
        return _flow_runs_cache[1]
    _flow_runs_cache = (now, _read_flow_runs())
    return _flow_runs_cache[1]


def _read_flow_runs() -> list[dict[str, Any]] | str:
    try:
        from quantdesk.ops.prefect_ctl import flows_status

        status = flows_status()
    except Exception as e:  # noqa: BLE001 - the overview shows the reason instead of failing
        return f"no flow runs to show ({str(e).splitlines()[0][:160]})"
    return [{"deployment": d["name"], "state": (d["last_run"] or {}).get("state") or "never",
             "ended": display.timestamp((d["last_run"] or {}).get("end"))} for d in status["deployments"]]


def trading(ledger: Ledger, user: str) -> dict[str, Any]:
    """Return the trading page's content and whether this user may use the kill switch."""
    return {**trading_controls(ledger, user), **desk_trading(ledger)}


def trading_controls(ledger: Ledger, user: str) -> dict[str, Any]:
    """Return the trading page's part that is the user's own: may they halt and trade, and on which venues."""
    from quantdesk.core.settings import get_settings

    me = get_user(ledger, user)
    return {"can_halt": me.may(Action.HALT), "can_order": me.may(Action.ORDER), "venues": sorted(get_settings().venues)}


def desk_trading(ledger: Ledger) -> dict[str, Any]:
    """Return the trading page's desk-wide part: state, orders, in-flight orders, fills, positions, risk events.

    Rows are readable (`quantdesk.core.display`); `symbols` lists the symbols with fills, for the chart.
    """
    orders = ledger.orders(limit=50)
    fills = ledger.fills(limit=50)
    return {
        "state": str(ledger.get_trading_state(GLOBAL_SCOPE)),
        "orders": [{"client_order_id": o.client_order_id, "symbol": o.symbol, "side": str(o.side),
                    "quantity": display.quantity(o.qty), "status": str(o.status)} for o in orders],
        "risk_events": [{"time": e.ts, "code": e.code, "detail": e.detail, "approved": e.approved}
                        for e in ledger.risk_events(limit=20)],
        "in_flight": [{"client_order_id": o.client_order_id, "symbol": o.symbol, "status": str(o.status),
                       "updated": o.updated_at} for o in orders if not o.status.is_final],
        "fills": [{"time": f.ts, "symbol": f.symbol, "side": str(f.side), "quantity": display.quantity(f.qty),
                   "price": display.number(f.price, None),
                   "fee": display.money(f.fee, f.fee_currency, places=max(2, -f.fee.normalize().as_tuple().exponent)),
                   "venue": f.venue} for f in fills],
        "positions": [{"venue": p.venue, "symbol": p.symbol, "quantity": display.quantity(p.qty),
                       "cost": display.money(p.cost, display.quote_currency(p.symbol))}
                      for p in ledger.positions() if p.qty],
        "symbols": sorted({f.symbol for f in fills} | {o.symbol for o in orders}),
    }


def _refused(ledger: Ledger, user: str, action: Action) -> DeskAction | None:
    """Ask the policy now, for the session's user: a refusal (audited by the policy) for the page, else None."""
    try:
        authorize(ledger, user, action, via="dashboard")
    except PermissionDeniedError as e:
        return DeskAction(ok=False, message=f"refused: {e}")
    return None


def _set(ledger: Ledger, user: str, state: TradingState, reason: str) -> DeskAction:
    # resuming what a loss limit stopped is an admin's call: the policy says which action this is
    action = Action.HALT if state is TradingState.HALTED else resume_action(ledger, GLOBAL_SCOPE)
    if (refusal := _refused(ledger, user, action)) is not None:
        return refusal
    ledger.set_trading_state(GLOBAL_SCOPE, state, reason, user)  # the audit names the logged-in person
    return DeskAction(ok=True, message=f"{state} by {user}")


def halt(ledger: Ledger, user: str, reason: str = "halted from the dashboard") -> DeskAction:
    """Halt trading everywhere (as the policy says: traders and admins); refused and audited for anyone else."""
    return _set(ledger, user, TradingState.HALTED, reason)


def resume(ledger: Ledger, user: str, reason: str = "resumed from the dashboard") -> DeskAction:
    """Resume trading (traders and admins; after an automatic loss halt, admins); refused and audited otherwise."""
    return _set(ledger, user, TradingState.ACTIVE, reason)


def deployments(ledger: Ledger, user: str) -> list[dict[str, Any]]:
    """Return each deployment's stage, state, code-hash pin and pending promotion (any logged-in user)."""
    from quantdesk.promotion import list_deployments, list_promotions

    me = get_user(ledger, user)
    pending = {p.deployment: p for p in list_promotions(ledger, status="pending_approval")}
    latest = {p.deployment: p for p in list_promotions(ledger)}  # oldest first: the last one wins
    return [{"name": d.name, "strategy": d.strategy_name, "stage": d.stage.value, "state": d.state.value,
             "code_hash": d.code_hash[:12], "approved_by": d.approved_by,
             # the newest promotion's evidence and every gate with its figure and threshold
             "evidence": latest[d.name].run_id if d.name in latest else None,
             "gates": "; ".join(("ok " if g.passed else "FAIL ") + g.line() for g in latest[d.name].gates)
             if d.name in latest else None,
             "pending": None if d.name not in pending else f"-> {pending[d.name].to_stage.value} by {pending[d.name].requested_by}",
             # a courtesy for the page: the approval rules are checked again when the button is used
             "may_decide": d.name in pending and me.may(Action.DECIDE_LIVE) and pending[d.name].requested_by != user}
            for d in list_deployments(ledger)]


def place_order(ledger: Ledger, user: str, *, venue: str, symbol: str, side: str, qty: str,
                order_type: str = "market", price: str | None = None) -> DeskAction:
    """Send a manual order from the ticket as `user` (traders and admins) through the risk gate.

    The same path as `quantdesk order`: reconcile, gate, ledger, venue; the audit names `user`.
    """
    import uuid
    from decimal import Decimal, InvalidOperation

    from quantdesk.broker import derive_client_order_id
    from quantdesk.broker.factory import open_gated
    from quantdesk.core.errors import QuantdeskError
    from quantdesk.core.orders import OrderIntent
    from quantdesk.core.types import OrderType, Side

    if (refusal := _refused(ledger, user, Action.ORDER)) is not None:
        return refusal
    try:
        side_value, type_value = Side(side.lower()), OrderType(order_type.lower())
        qty_value = Decimal(qty)
        price_value = None if not price else Decimal(price)
        if qty_value <= 0 or (type_value is OrderType.LIMIT and price_value is None):
            raise ValueError
    except (ValueError, InvalidOperation):
        return DeskAction(ok=False, message=f"bad order: side {side!r}, type {order_type!r}, qty {qty!r}, price "
                                            f"{price!r}; a positive quantity, and a price for a limit order")
    try:
        gated = open_gated(venue, actor=user)
        with gated.ledger:
            gated.start()
            outcome = gated.submit(OrderIntent(
                client_order_id=derive_client_order_id("manual", uuid.uuid4().hex), deployment="manual",
                venue=venue, symbol=symbol, side=side_value, type=type_value, qty=qty_value, price=price_value,
                ts=gated.clock.now()))
    except QuantdeskError as e:
        return DeskAction(ok=False, message=f"not sent: {e}")
    if not outcome.approved:
        return DeskAction(ok=False, message=f"denied by the risk gate: {outcome.code}: {outcome.detail}")
    if outcome.error:
        return DeskAction(ok=False, message=f"order {outcome.client_order_id} failed: {outcome.error}")
    return DeskAction(ok=True, message=f"order {outcome.client_order_id} {side_value} {qty_value} {symbol} on "
                                       f"{venue}: {outcome.status} (sent by {user})")


def request_promotion(ledger: Ledger, user: str, *, strategy: str, run_id: str, to: str,
                      name: str | None = None) -> DeskAction:
    """Promote `strategy` on the evidence of run `run_id` to paper or live as `user`, every gate checked.

    The same call as `quantdesk promote`: the role rules and gates of `quantdesk.promotion` decide;
    a live promotion waits for another person's approval.
    """
    from quantdesk.parity import drift_report
    from quantdesk.promotion import PromotionRefused, promote

    try:
        request = promote(ledger, strategy, run_id=run_id, to=to, actor=user, name=name or None, drift=drift_report,
                          via="dashboard")
    except PermissionDeniedError as e:  # audited by the policy
        return DeskAction(ok=False, message=f"refused: {e}")
    except PromotionRefused as e:
        return DeskAction(ok=False, message="refused by the gates: " + "; ".join(
            g.line() for g in e.request.failing_gates[:5]))
    except QuantdeskError as e:
        ledger.audit(user, "dashboard.refused", {"action": "promote", "strategy": strategy, "run_id": run_id,
                                                 "reason": str(e)})
        return DeskAction(ok=False, message=f"refused: {e}")
    if request.status == "pending_approval":
        return DeskAction(ok=True, message=f"live promotion of {request.deployment} requested by {user}; another "
                                           "trader or admin must approve it")
    return DeskAction(ok=True, message=f"{request.deployment} is now at stage {request.to_stage.value} ({user})")


def decide_promotion(ledger: Ledger, user: str, deployment: str, *, approve: bool, reason: str = "") -> DeskAction:
    """Approve or reject `deployment`'s pending live promotion as the logged-in `user`.

    The promotion rules decide, as on the CLI: a different person with the approve permission
    (trader or admin) must approve; a refusal is audited by `quantdesk.promotion` itself.
    """
    from quantdesk.promotion import approve as approve_promotion
    from quantdesk.promotion import reject as reject_promotion

    try:
        if approve:
            approve_promotion(ledger, deployment, actor=user, reason=reason or "approved from the dashboard",
                              via="dashboard")
        else:
            reject_promotion(ledger, deployment, actor=user, reason=reason or "rejected from the dashboard",
                             via="dashboard")
    except PermissionDeniedError as e:  # audited by the policy
        return DeskAction(ok=False, message=f"refused: {e}")
    except PromotionError as e:
        ledger.audit(user, "dashboard.refused", {"action": "approve" if approve else "reject",
                                                 "deployment": deployment, "reason": str(e)})
        return DeskAction(ok=False, message=f"refused: {e}")
    return DeskAction(ok=True, message=f"{deployment} {'approved' if approve else 'rejected'} by {user}")


def data_health(lake: Any) -> dict[str, Any]:
    """Return lake coverage per series and the quarantine by reason."""
    coverage = lake.coverage()
    quarantine = lake.quarantine()
    reasons = quarantine.group_by("reason").len().sort("reason").to_dicts() if quarantine.height else []
    return {"coverage": coverage.select("exchange", "symbol", "timeframe", "first", "last", "rows", "gaps",
                                        "missing_bars", "quarantined").to_dicts() if coverage.height else [],
            "quarantine": reasons}


def admin(ledger: Ledger, user: str) -> dict[str, Any] | None:
    """Return users, venues' stored keys (fingerprints) and the audit chain's verification; None for non-admins."""
    from quantdesk.core.settings import get_settings
    from quantdesk.identity import list_exchange_keys, list_users
    from quantdesk.identity.channels import list_channels

    if not get_user(ledger, user).may(Action.MANAGE_USERS):
        return None
    verification = ledger.verify_audit()
    return {"users": [{"name": u.name, "role": u.role.value, "password": u.has_password, "disabled": u.disabled}
                      for u in list_users(ledger)],
            "keys": [{"venue": k.venue, "account": k.account, "fingerprint": k.key_fingerprint}
                     for k in list_exchange_keys(ledger)],
            "venues": [{"venue": name, "exchange": v.exchange, "api_url": v.api_url or "(the exchange's own)",
                        "sandbox": v.sandbox, "keys": f"env {v.key_env}" if v.key_env else "stored (encrypted)"}
                       for name, v in sorted(get_settings().venues.items())],
            "channels": [{"name": c.name, "url": c.redacted, "fingerprint": c.url_fingerprint}
                         for c in list_channels(ledger)],
            "audit": {"ok": verification.ok, "entries": verification.checked,
                      "recent": [{"seq": e.seq, "actor": e.actor, "action": e.action} for e in ledger.audit_log(limit=20)]}}
