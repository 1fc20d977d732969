"""Data and actions behind the dashboards; every action checks the role on the server and is audited.

A page hides buttons a role may not use, but that is a courtesy: the action functions here
check the logged-in user's role themselves, so an event forged from a viewer's session is
refused (and audited) all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantdesk.core.errors import PromotionError
from quantdesk.core.types import TradingState
from quantdesk.identity import Permission, get_user, require
from quantdesk.ledger import Ledger
from quantdesk.risk import GLOBAL_SCOPE

__all__ = ["DeskAction", "halt", "overview", "resume", "trading"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskAction:
    """The outcome of a button: done or refused, and a line for the page."""

    ok: bool
    message: str


def overview(ledger: Ledger, user: str) -> dict[str, Any]:
    """Return the overview's content: who is looking, trading states, deployments, positions."""
    from quantdesk.promotion import list_deployments

    me = get_user(ledger, user)
    return {
        "user": me.name, "role": me.role.value,
        "states": [{"scope": s.scope, "state": str(s.state), "reason": s.reason} for s in ledger.trading_states()],
        "deployments": [{"name": d.name, "stage": d.stage.value, "state": d.state.value, "pnl": d.pnl}
                        for d in list_deployments(ledger)],
        "positions": [{"venue": p.venue, "symbol": p.symbol, "qty": str(p.qty)} for p in ledger.positions() if p.qty],
    }


def trading(ledger: Ledger, user: str) -> dict[str, Any]:
    """Return the trading page's content and whether this user may use the kill switch."""
    me = get_user(ledger, user)
    orders = ledger.orders(limit=50)
    return {
        "can_halt": me.may(Permission.OPERATE),
        "state": next((str(s.state) for s in ledger.trading_states() if s.scope == GLOBAL_SCOPE), "ACTIVE"),
        "orders": [{"client_order_id": o.client_order_id, "symbol": o.symbol, "side": str(o.side), "qty": str(o.qty),
                    "status": str(o.status)} for o in orders],
        "risk_events": [{"ts": e.ts.isoformat(timespec="seconds"), "code": e.code, "detail": e.detail}
                        for e in ledger.risk_events(limit=20)],
    }


def _set(ledger: Ledger, user: str, state: TradingState, reason: str) -> DeskAction:
    try:
        require(ledger, user, Permission.OPERATE)
    except PromotionError as e:
        ledger.audit(user, "dashboard.refused", {"action": f"set {state}", "reason": str(e)})
        return DeskAction(ok=False, message=f"refused: {e}")
    ledger.set_trading_state(GLOBAL_SCOPE, state, reason, user)  # the audit names the logged-in person
    return DeskAction(ok=True, message=f"{state} by {user}")


def halt(ledger: Ledger, user: str, reason: str = "halted from the dashboard") -> DeskAction:
    """Halt trading everywhere (traders and admins); refused and audited for anyone else."""
    return _set(ledger, user, TradingState.HALTED, reason)


def resume(ledger: Ledger, user: str, reason: str = "resumed from the dashboard") -> DeskAction:
    """Resume trading (traders and admins); refused and audited for anyone else."""
    return _set(ledger, user, TradingState.ACTIVE, reason)
