"""The risk gate: every order intent and cancel passes `RiskGate` before it reaches a broker.

The gate works on plain values (intent, context) and keeps only what it must remember
itself: sliding windows of orders/cancels/fills, recent orders for duplicate detection,
equity peaks, and the trading state. Persistence (denials, state) belongs to the caller
through a `TradingStateStore` (the broker adapts the ledger to it).

Rule order, first denial wins: intent sanity, trading state (and loss limits when the
context has equity), reduce-only flag, market validity, price band, order size,
position and gross exposure, leverage, the book's VaR (`var_limit`), active orders, order and
fill rates, duplicates.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from decimal import Decimal

from quantdesk.core.clock import Clock
from quantdesk.core.costs import MarketRules
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderType, TradingState
from quantdesk.risk.config import RiskConfig, RiskLimits
from quantdesk.risk.context import RiskContext
from quantdesk.risk.decision import APPROVED, DenialCode, RiskDecision, StateChange
from quantdesk.risk.equity import EquityTracker
from quantdesk.risk.rules import (
    DecimalRules,
    check_exposure,
    check_leverage,
    check_market,
    check_order_size,
    check_price_band,
)
from quantdesk.risk.state import GLOBAL_SCOPE, ScopeState, TradingStateStore, deployment_scope
from quantdesk.risk.var_limit import VarModelSource, check_var
from quantdesk.risk.windows import DAY_MS, FlowCounters, SlidingWindow

__all__ = ["RiskGate"]

log = logging.getLogger(__name__)

ZERO = Decimal(0)
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_MANUAL_CODE = {
    TradingState.ACTIVE: DenialCode.APPROVED,
    TradingState.REDUCING: DenialCode.REDUCING_ONLY,
    TradingState.HALTED: DenialCode.TRADING_HALTED,
}


_ACTIVE = ScopeState(scope=GLOBAL_SCOPE, state=TradingState.ACTIVE)


def _deny(code: DenialCode, detail: str) -> RiskDecision:
    return RiskDecision(approved=False, code=code, detail=detail)


def _rate(window: SlidingWindow, limit: int | None, now: int, strict: bool) -> int | None:
    """Return the count when the window is at its limit (orders) or past it (fills, strict)."""
    if limit is None:
        return None
    count = window.count(now)
    if count > limit or (not strict and count >= limit):
        return count
    return None


class RiskGate:
    """Check order intents and cancels against the configured limits; move the trading state.

    `state_refresh_ms`: how often `check` re-reads the state from the store, so a
    `quantdesk halt` from another process takes effect within that time.
    `var_model`: the day's VaR model for `max_desk_var_pct`/`max_deployment_var_pct`
    (`quantdesk.book.gate_var_source`); without one those limits are not evaluated.
    """

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        state_store: TradingStateStore | None = None,
        *,
        state_refresh_ms: int = 1_000,
        var_model: VarModelSource | None = None,
    ) -> None:
        self._config = config
        self._var_model = var_model
        self._clock = clock
        self._store = state_store
        self._refresh_ms = state_refresh_ms
        self._lock = threading.RLock()
        self._states: dict[str, ScopeState] = {}
        self._loaded_ms = 0
        self.refresh_state()
        self._symbol_flow: dict[tuple[str, str], FlowCounters] = {}
        self._total_flow: dict[str, FlowCounters] = {}
        self._recent: dict[tuple[str, str, str, Decimal, Decimal | None], int] = {}
        self._recent_order: deque[tuple[int, tuple[str, str, str, Decimal, Decimal | None]]] = deque()
        self._dup_horizon_ms = 0
        self._flow_cache: dict[tuple[str, str], tuple[tuple, ...]] = {}
        self._rules: dict[MarketRules, DecimalRules] = {}
        self._equity: dict[str, EquityTracker] = {}
        self.last_change: StateChange | None = None
        self._pending_changes: list[StateChange] = []

    # -- state ------------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        """Return the global trading state."""
        return self.effective_state(None).state

    def states(self) -> list[ScopeState]:
        """Return every scope's state known to the gate."""
        return list(self._states.values())

    def effective_state(self, deployment: str | None) -> ScopeState:
        """Return the most severe of the global state and the deployment's own state."""
        best = self._states.get(GLOBAL_SCOPE) or _ACTIVE
        if deployment is not None:
            own = self._states.get(deployment_scope(deployment))
            if own is not None and _SEVERITY[own.state] > _SEVERITY[best.state]:
                best = own
        return best

    def refresh_state(self) -> TradingState:
        """Re-read every scope's state from the store (no-op without one); return the global state."""
        with self._lock:
            if self._store is not None:
                self._states = {
                    r.scope: ScopeState(scope=r.scope, state=TradingState(r.state), reason=r.reason or "")
                    for r in self._store.trading_states()
                }
            self._loaded_ms = self._clock.now_ms()
            return self.state

    def set_state(
        self,
        state: TradingState,
        reason: str,
        *,
        deployment: str | None = None,
        actor: str = "operator",
        code: DenialCode | None = None,
    ) -> StateChange:
        """Move the global scope (or one deployment's) to `state`; persist it through the store."""
        with self._lock:
            if code is None:
                code = _MANUAL_CODE[state]
            scope = GLOBAL_SCOPE if deployment is None else deployment_scope(deployment)
            previous = (self._states.get(scope) or _ACTIVE).state
            change = StateChange(
                scope=scope, previous=previous, state=state, code=code, reason=reason, ts_ms=self._clock.now_ms()
            )
            if self._store is not None:
                self._store.set_trading_state(scope, state, reason, actor)
            self._states[scope] = ScopeState(scope=scope, state=state, reason=reason)
            self.last_change = change
            self._pending_changes.append(change)
            return change

    def pop_state_changes(self) -> list[StateChange]:
        """Return the state changes since the last call (loss limits tripped inside `check` too).

        The broker records each as a risk event and notifies; the store already persisted them.
        """
        with self._lock:
            changes, self._pending_changes = self._pending_changes, []
            return changes

    def halt(self, reason: str, *, deployment: str | None = None, actor: str = "operator") -> StateChange:
        """Stop trading (globally, or for one deployment): only cancels pass until `resume`."""
        return self.set_state(TradingState.HALTED, reason, deployment=deployment, actor=actor)

    def resume(
        self, reason: str = "resumed by operator", *, deployment: str | None = None, actor: str = "operator"
    ) -> StateChange:
        """Return to ACTIVE; loss limits restart from the current equity (peak and day start)."""
        with self._lock:
            for name, tracker in self._equity.items():
                if deployment is None or name == deployment:
                    tracker.rebase()
            return self.set_state(TradingState.ACTIVE, reason, deployment=deployment, actor=actor)

    def on_equity(self, equity: Decimal, *, deployment: str) -> StateChange | None:
        """Track equity; when a daily loss or drawdown limit is reached, escalate the deployment's state."""
        with self._lock:
            return self._track_equity(deployment, equity, self._clock.now_ms())

    def _track_equity(self, deployment: str, equity: Decimal, now: int) -> StateChange | None:
        limits = self._config.limits_for(deployment, "")
        tracker = self._equity.get(deployment)
        if tracker is None:
            tracker = self._equity[deployment] = EquityTracker()
        breach = tracker.update(equity, now // DAY_MS, limits)
        if breach is None:
            return None
        target, code, reason = breach
        if _SEVERITY[target] <= _SEVERITY[self.effective_state(deployment).state]:
            return None
        return self.set_state(target, reason, deployment=deployment, actor="risk-gate", code=code)

    # -- flow memory --------------------------------------------------------------------------

    def _flows(self, deployment: str, symbol: str) -> tuple[FlowCounters, FlowCounters]:
        key = (deployment, symbol)
        sym = self._symbol_flow.get(key)
        if sym is None:
            sym = self._symbol_flow[key] = FlowCounters()
        total = self._total_flow.get(deployment)
        if total is None:
            total = self._total_flow[deployment] = FlowCounters()
        return sym, total

    def on_fill(self, *, deployment: str, symbol: str) -> None:
        """Record one fill (for the fill-rate limits) at the clock's now."""
        with self._lock:
            now = self._clock.now_ms()
            sym, total = self._flows(deployment, symbol)
            for counters in (sym, total):
                counters.fills_second.add(now)
                counters.fills_day.add(now)

    def check_cancel(self, *, deployment: str, symbol: str) -> RiskDecision:
        """Check a cancel (allowed in every state, subject only to the cancel-rate limits)."""
        with self._lock:
            now = self._clock.now_ms()
            limits = self._config.limits_for(deployment, symbol)
            sym, total = self._flows(deployment, symbol)
            for window, limit, code, scope in (
                (sym.cancels_second, limits.max_symbol_cancels_per_second, DenialCode.CANCEL_RATE_EXCEEDED, symbol),
                (total.cancels_second, limits.max_cancels_per_second, DenialCode.CANCEL_RATE_EXCEEDED, deployment),
                (sym.cancels_day, limits.max_symbol_cancels_per_day, DenialCode.DAILY_CANCEL_LIMIT_EXCEEDED, symbol),
                (total.cancels_day, limits.max_cancels_per_day, DenialCode.DAILY_CANCEL_LIMIT_EXCEEDED, deployment),
            ):
                count = _rate(window, limit, now, strict=False)
                if count is not None:
                    return _deny(code, f"{count} cancels for {scope} in the window; limit is {limit}")
            for counters in (sym, total):
                counters.cancels_second.add(now)
                counters.cancels_day.add(now)
            return APPROVED

    # -- the check ----------------------------------------------------------------------------

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskDecision:
        """Decide one order intent against every rule; an approval is counted in the rate windows."""
        with self._lock:
            now = self._clock.now_ms()
            if self._store is not None and now - self._loaded_ms >= self._refresh_ms:
                try:
                    self.refresh_state()
                except Exception as e:  # fail closed: an unknown state is treated as HALTED
                    log.warning("trading state could not be read: %s", type(e).__name__)
                    return _deny(
                        DenialCode.TRADING_HALTED,
                        f"trading state could not be read ({type(e).__name__}); orders wait until it can",
                    )
            deployment, symbol = intent.deployment, intent.symbol
            limits = self._config.limits_for(deployment, symbol)
            decision = self._decide(intent, context, limits, now)
            if decision.approved:
                self._remember(intent, limits, now)
            return decision

    def _decide(self, intent: OrderIntent, context: RiskContext, limits: RiskLimits, now: int) -> RiskDecision:
        qty, symbol = intent.qty, intent.symbol
        if not qty.is_finite() or qty <= ZERO:
            return _deny(DenialCode.INVALID_QTY, f"qty must be a positive number, got {qty}")
        price = intent.price if intent.type is OrderType.LIMIT else None
        if intent.type is OrderType.LIMIT and (price is None or not price.is_finite() or price <= ZERO):
            return _deny(DenialCode.INVALID_PRICE, f"a limit order needs a positive price, got {intent.price}")

        trigger = None
        if context.equity is not None:
            trigger = self._track_equity(intent.deployment, context.equity, now)
        position = context.positions.get(symbol, ZERO)
        signed = qty if intent.side.sign > 0 else -qty
        post = position + signed
        shrinks = position != ZERO and signed * position < ZERO and qty <= abs(position)
        current = self.effective_state(intent.deployment)
        if current.state is TradingState.HALTED:
            code = trigger.code if trigger is not None else DenialCode.TRADING_HALTED
            return _deny(code, f"trading is HALTED ({current.scope}: {current.reason}); only cancels pass")
        if current.state is TradingState.REDUCING and not shrinks:
            code = trigger.code if trigger is not None else DenialCode.REDUCING_ONLY
            return _deny(
                code,
                f"trading is REDUCING ({current.scope}: {current.reason}); only orders that shrink a position "
                f"pass, {symbol} position {position}, order {signed}",
            )
        if intent.reduce_only and not shrinks:
            return _deny(
                DenialCode.REDUCE_ONLY_WOULD_INCREASE,
                f"reduce-only order {signed} would not shrink the {symbol} position {position}",
            )

        last = context.last_prices.get(symbol) or context.mark_prices.get(symbol)
        mark = context.mark_prices.get(symbol) or last
        exec_price = price if price is not None else last
        notional = qty * exec_price if exec_price is not None else None
        if mark is None:
            mark = exec_price

        rules = context.market_rules.get(symbol)
        if rules is not None:
            dec_rules = self._rules.get(rules)
            if dec_rules is None:
                dec_rules = self._rules[rules] = DecimalRules(rules)
            denial = check_market(dec_rules, qty, price, notional)
            if denial is not None:
                return denial
        denial = (
            check_price_band(limits, price, last)
            or check_order_size(limits, qty, notional, context.equity, shrinks=shrinks)
            or check_exposure(
                limits, symbol, position, post, mark, context.positions, context.mark_prices, context.last_prices
            )
        )
        leverage = context.leverage.get(symbol)
        if denial is None and leverage is not None:
            denial = check_leverage(limits, symbol, leverage, position, post, context.entry_prices.get(symbol),
                                    exec_price, mark, context.margin_tiers.get(symbol))
        if denial is None and (limits.max_desk_var_pct is not None or limits.max_deployment_var_pct is not None):
            denial = check_var(limits, self._var_model, deployment=intent.deployment, venue=intent.venue,
                               symbol=symbol, signed_qty=signed, price=exec_price, equity=context.equity)
        if denial is not None:
            return denial

        active = context.active_orders
        if limits.max_active_orders_per_symbol is not None:
            count = active.get(symbol, 0)
            if count >= limits.max_active_orders_per_symbol:
                return _deny(
                    DenialCode.TOO_MANY_ACTIVE_ORDERS,
                    f"{count} active {symbol} orders (open + in flight); limit is {limits.max_active_orders_per_symbol}",
                )
        if limits.max_active_orders is not None:
            count = sum(active.values())
            if count >= limits.max_active_orders:
                return _deny(
                    DenialCode.TOO_MANY_ACTIVE_ORDERS,
                    f"{count} active orders (open + in flight); limit is {limits.max_active_orders}",
                )
        return self._check_flow(intent, limits, now)

    def _flow_checks(self, deployment: str, symbol: str, limits: RiskLimits) -> tuple[tuple, ...]:
        """Return (window, limit, code, scope, what, strict) for each configured rate limit (cached)."""
        key = (deployment, symbol)
        checks = self._flow_cache.get(key)
        if checks is None:
            sym, total = self._flows(deployment, symbol)
            order_rate, order_day = DenialCode.ORDER_RATE_EXCEEDED, DenialCode.DAILY_ORDER_LIMIT_EXCEEDED
            fill_rate, fill_day = DenialCode.FILL_RATE_EXCEEDED, DenialCode.DAILY_FILL_LIMIT_EXCEEDED
            table = (
                (sym.orders_second, limits.max_symbol_orders_per_second, order_rate, symbol, "orders", False),
                (total.orders_second, limits.max_orders_per_second, order_rate, deployment, "orders", False),
                (sym.orders_day, limits.max_symbol_orders_per_day, order_day, symbol, "orders", False),
                (total.orders_day, limits.max_orders_per_day, order_day, deployment, "orders", False),
                (sym.fills_second, limits.max_symbol_fills_per_second, fill_rate, symbol, "fills", True),
                (total.fills_second, limits.max_fills_per_second, fill_rate, deployment, "fills", True),
                (sym.fills_day, limits.max_symbol_fills_per_day, fill_day, symbol, "fills", True),
                (total.fills_day, limits.max_fills_per_day, fill_day, deployment, "fills", True),
            )
            checks = self._flow_cache[key] = tuple(row for row in table if row[1] is not None)
        return checks

    def _check_flow(self, intent: OrderIntent, limits: RiskLimits, now: int) -> RiskDecision:
        symbol, deployment = intent.symbol, intent.deployment
        for window, limit, code, scope, what, strict in self._flow_checks(deployment, symbol, limits):
            count = _rate(window, limit, now, strict)
            if count is not None:
                return _deny(code, f"{count} {what} for {scope} in the window; limit is {limit}")
        window_ms = limits.duplicate_window_ms
        if window_ms:
            key = (deployment, symbol, intent.side.value, intent.qty, intent.price)
            seen = self._recent.get(key)
            if seen is not None and now - seen < window_ms:
                return _deny(
                    DenialCode.DUPLICATE_ORDER,
                    f"same {symbol} {intent.side.value} {intent.qty} @ {intent.price} {now - seen} ms ago "
                    f"(window {window_ms} ms)",
                )
        return APPROVED

    def _remember(self, intent: OrderIntent, limits: RiskLimits, now: int) -> None:
        sym, total = self._flows(intent.deployment, intent.symbol)
        for counters in (sym, total):
            counters.orders_second.add(now)
            counters.orders_day.add(now)
        if limits.duplicate_window_ms:
            key = (intent.deployment, intent.symbol, intent.side.value, intent.qty, intent.price)
            self._recent[key] = now
            order = self._recent_order
            order.append((now, key))
            # forget entries older than the longest window seen; O(1) amortised per order
            self._dup_horizon_ms = max(self._dup_horizon_ms, limits.duplicate_window_ms)
            horizon = now - self._dup_horizon_ms
            while order and order[0][0] <= horizon:
                ts, old = order.popleft()
                if self._recent.get(old) == ts:
                    del self._recent[old]
