"""Recording calls, one per event the contract counts; each is one or two prometheus_client calls.

Callers pass their own values (a venue name, a denial code, a deployment); `_label` keeps
every label value inside the contract's budget: names of configured things (venues,
deployments, symbols, flows, codes) pass, anything else (free text, a typed user name, an
overlong string) becomes "other", so no label ever carries what a user typed and a typo can
not open new series. A recording never raises into the caller's path.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from . import registry
from .contract import OrderResult
from .registry import desk_metrics

__all__ = [
    "record_candle_age", "record_dashboard_sessions", "record_decision", "record_fills", "record_flow_run",
    "record_lake_rows", "record_login", "record_notification", "record_order", "record_order_seconds",
    "record_position", "record_risk_check",
]

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
OTHER = "other"
_STATUS_TO_RESULT = {"filled": OrderResult.FILLED, "open": OrderResult.OPEN, "partially_filled": OrderResult.OPEN,
                     "rejected": OrderResult.REJECTED, "canceled": OrderResult.REJECTED,
                     "cancelled": OrderResult.REJECTED, "expired": OrderResult.REJECTED}


@lru_cache(maxsize=4096)
def _label(value: object) -> str:
    text = str(value) if value is not None else ""
    return text if _SAFE.fullmatch(text) else OTHER


def order_result(status: object) -> OrderResult:
    """Map an order status (OrderStatus or its text) to the contract's outcome label."""
    return _STATUS_TO_RESULT.get(str(status).lower(), OrderResult.FAILED)


def record_order(*, venue: str, side: object, outcome: OrderResult | str) -> None:
    """Count one order intent by venue, side (buy, sell) and outcome."""
    if not registry._recording:
        return
    try:
        side_label = str(side).lower()
        desk_metrics()["quantdesk_orders"].labels(
            _label(venue), side_label if side_label in ("buy", "sell") else OTHER, str(outcome)).inc()
    except Exception:  # noqa: BLE001 - metrics must never break an order
        log.debug("recording an order failed", exc_info=True)


def record_fills(*, venue: str, count: int) -> None:
    """Count `count` fills recorded on `venue`."""
    if not registry._recording:
        return
    if count:
        try:
            desk_metrics()["quantdesk_fills"].labels(_label(venue)).inc(count)
        except Exception:  # noqa: BLE001
            log.debug("recording fills failed", exc_info=True)


def record_order_seconds(*, venue: str, seconds: float) -> None:
    """Observe one intent-written -> answer-written round trip."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_order_seconds"].labels(_label(venue)).observe(max(seconds, 0.0))
    except Exception:  # noqa: BLE001
        log.debug("recording order seconds failed", exc_info=True)


def record_risk_check(*, seconds: float, denied_code: str | None) -> None:
    """Observe one risk check; count a denial under its code."""
    if not registry._recording:
        return
    try:
        metrics = desk_metrics()
        metrics["quantdesk_risk_check_seconds"].observe(max(seconds, 0.0))
        if denied_code is not None:
            metrics["quantdesk_risk_denials"].labels(_label(denied_code)).inc()
    except Exception:  # noqa: BLE001
        log.debug("recording a risk check failed", exc_info=True)


def record_decision(*, deployment: str, seconds: float) -> None:
    """Observe one bar close -> order handed to the gate delay."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_decision_seconds"].labels(_label(deployment)).observe(max(seconds, 0.0))
    except Exception:  # noqa: BLE001
        log.debug("recording a decision failed", exc_info=True)


def record_candle_age(*, exchange: str, symbol: str, timeframe: str, seconds: float) -> None:
    """Set the age of a series' newest closed candle, as a running deployment sees it."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_candle_age_seconds"].labels(
            _label(exchange), _label(symbol), _label(timeframe)).set(max(seconds, 0.0))
    except Exception:  # noqa: BLE001
        log.debug("recording a candle age failed", exc_info=True)


def record_position(*, deployment: str, equity: float, notional: dict[str, float]) -> None:
    """Set a running deployment's equity and per-symbol position notional at the last close."""
    if not registry._recording:
        return
    try:
        metrics = desk_metrics()
        dep = _label(deployment)
        metrics["quantdesk_equity"].labels(dep).set(equity)
        for symbol, value in notional.items():
            metrics["quantdesk_position_notional"].labels(dep, _label(symbol)).set(value)
    except Exception:  # noqa: BLE001
        log.debug("recording a position failed", exc_info=True)


def record_notification(*, url_scheme: str, sent: bool) -> None:
    """Count one delivery attempt by the channel URL's scheme (never the URL: it holds secrets)."""
    if not registry._recording:
        return
    try:
        scheme = url_scheme.lower()
        desk_metrics()["quantdesk_notifications"].labels(
            scheme if re.fullmatch(r"[a-z][a-z0-9+]{0,15}", scheme) else OTHER, "sent" if sent else "failed").inc()
    except Exception:  # noqa: BLE001
        log.debug("recording a notification failed", exc_info=True)


def record_flow_run(*, flow: str, state: str) -> None:
    """Count one flow run that ended in `state` (COMPLETED, FAILED, CRASHED, CANCELLED)."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_flow_runs"].labels(_label(flow), _label(state.lower())).inc()
    except Exception:  # noqa: BLE001
        log.debug("recording a flow run failed", exc_info=True)


def record_lake_rows(*, exchange: str, timeframe: str, rows: int) -> None:
    """Count candle rows written to the lake."""
    if not registry._recording:
        return
    if rows:
        try:
            desk_metrics()["quantdesk_lake_rows_written"].labels(_label(exchange), _label(timeframe)).inc(rows)
        except Exception:  # noqa: BLE001
            log.debug("recording lake rows failed", exc_info=True)


def record_login(*, accepted: bool) -> None:
    """Count one dashboard login by outcome (the user name never becomes a label)."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_logins"].labels("accepted" if accepted else "refused").inc()
    except Exception:  # noqa: BLE001
        log.debug("recording a login failed", exc_info=True)


def record_dashboard_sessions(delta: int) -> None:
    """Move the open dashboard sessions gauge by `delta` (+1 opened, -1 closed)."""
    if not registry._recording:
        return
    try:
        desk_metrics()["quantdesk_dashboard_sessions"].inc(delta)
    except Exception:  # noqa: BLE001
        log.debug("recording dashboard sessions failed", exc_info=True)
