"""The gated broker: the only way out to a venue (DESIGN.md, contract 5).

intent -> RiskGate -> ledger (intent, PENDING -> SENT) -> broker -> ledger (answer) ->
notification. Denials are stored and notified; orders without an answer stay in flight
until a lookup resolves them; fills are pulled and recorded idempotently; reconciliation
runs on start, and nothing is sent until ledger and venue agree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantdesk.broker.reconcile import ReconcileReport, reconcile
from quantdesk.broker.types import Broker, BrokerFill, BrokerOrder, client_order_id_for
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import (
    BrokerError,
    OrderNotFoundError,
    OrderStateUnknownError,
    ReconciliationError,
)
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus
from quantdesk.ledger import FillRecord, IntentRow, Ledger, OrderRecord, PositionRecord
from quantdesk.ledger.records import PretradeView
from quantdesk.metrics import (
    OrderResult,
    order_result,
    record_fills,
    record_order,
    record_order_seconds,
    record_risk_check,
)
from quantdesk.notify import Notification, NotificationLevel, Notifier
from quantdesk.risk import RiskContext, RiskDecision, RiskGate, StateChange

__all__ = ["GatedBroker", "OrderOutcome"]

log = logging.getLogger(__name__)
_UNKNOWN = object()  # "not pulled yet"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOutcome:
    """What happened to one intent: the risk decision, the ledger row, and any venue error."""

    client_order_id: str
    approved: bool
    code: str
    detail: str
    status: OrderStatus | None = None
    order: OrderRecord | None = None  # the ledger's row after the answer
    error: str | None = None
    fills: tuple[FillRecord, ...] = ()  # the fills recorded with the answer (more may come at reconcile)

    @property
    def ok(self) -> bool:
        return self.approved and self.error is None


class GatedBroker:
    """Send order intents through the risk gate and the ledger to a broker.

    `start()` reconciles first; `submit`, `cancel` raise ReconciliationError until the ledger
    and the venue agree. `notifier` is anything with `notify(Notification)` (None: silent).
    """

    def __init__(
        self,
        broker: Broker,
        ledger: Ledger,
        gate: RiskGate,
        *,
        venue: str | None = None,
        account: str = "default",
        notifier: Notifier | None = None,
        clock: Clock | None = None,
        actor: str = "system",
        market_rules: Mapping[str, MarketRules] | None = None,
    ) -> None:
        self.broker = broker
        self.ledger = ledger
        self.gate = gate
        self.venue = venue or broker.name
        self.account = account
        self.notifier = notifier
        self.clock = clock or SystemClock()
        self.actor = actor
        self.market_rules = dict(market_rules or {})
        self.last_report: ReconcileReport | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ReconcileReport:
        """Reconcile ledger and venue; raise ReconciliationError when they still disagree."""
        report = self.reconcile()
        if not report.agreed:
            raise ReconciliationError(
                f"ledger and venue {self.venue!r} disagree: {'; '.join(report.unresolved[:3])}; "
                "fix these and run `quantdesk reconcile` before trading"
            )
        return report

    def reconcile(self) -> ReconcileReport:
        """Run reconciliation now (audited; changes are notified)."""
        report = reconcile(self.ledger, self.broker, venue=self.venue, account=self.account)
        self.last_report = report
        record_fills(venue=self.venue, count=len(report.recorded_fills))
        self.ledger.audit(
            self.actor, "broker.reconcile",
            {"venue": self.venue, "agreed": report.agreed, "adopted": list(report.adopted_orders),
             "corrected": list(report.corrected_orders), "closed": list(report.closed_orders),
             "fills": len(report.recorded_fills), "unresolved": list(report.unresolved)},
        )
        if report.changed or not report.agreed:
            level = NotificationLevel.WARNING if not report.agreed or report.adopted_orders else NotificationLevel.INFO
            self._notify(level, f"reconciled {self.venue}", _summary(report))
        return report

    def _require_agreement(self) -> None:
        if self.last_report is None or not self.last_report.agreed:
            raise ReconciliationError(
                f"trading on {self.venue!r} is blocked until ledger and venue agree; "
                "call start() or run `quantdesk reconcile`"
            )

    # -- orders ------------------------------------------------------------------------------
    def submit(self, intent: OrderIntent, *, equity: Decimal | None = None,
               view: PretradeView | None = None) -> OrderOutcome:
        """Pass `intent` through the gate to the venue; return what happened (denials are values).

        `equity` (quote currency), when the caller knows it, lets the gate evaluate the daily
        loss and drawdown limits as part of the check. `view`: a `Ledger.pretrade` snapshot the
        caller read for this intent's client order id with nothing written since (else None).
        """
        self._require_agreement()
        cid = client_order_id_for(intent)
        # the known-order check, positions and open orders in one read transaction, when the ledger offers it
        # (the broker's market data is read after it, outside any transaction: no snapshot is held
        # open across a venue's round trip)
        pretrade = getattr(self.ledger, "pretrade", None)
        if view is None or getattr(view, "client_order_id", None) != cid:
            view = pretrade(cid, venue=self.venue, account=self.account) if pretrade is not None else None
        existing = view.order if view is not None else self.ledger.order(cid)
        if existing is not None:
            # a retry of a known intent: never a second order; resolve instead of resending
            if existing.status in (OrderStatus.PENDING, OrderStatus.SENT):
                self.resolve_in_flight()
                existing = self.ledger.order(cid) or existing
            return OrderOutcome(client_order_id=cid, approved=True, code="ALREADY_SUBMITTED",
                                detail="this intent was submitted before", status=existing.status, order=existing)
        decision: RiskDecision = self._check(intent, self._context(intent, equity, view=view))
        self._record_state_changes()
        if not decision.approved:
            return self._deny(intent, cid, decision)
        # the intent and its SENT mark in one transaction (one commit): durable before the send
        self.ledger.record_intents([self._intent_row(intent, cid)], sent_source="gated-broker")
        return self._send(intent, cid, decision, written_at=time.perf_counter())

    def submit_many(self, intents: Sequence[OrderIntent], *, equity: Decimal | None = None) -> list[OrderOutcome]:
        """Submit several intents (one bar's orders); return one outcome per intent, in order.

        Every intent passes the gate (each checked against the book as the earlier approvals
        would leave it in flight), denials are stored; then ALL approved intents are written to
        the ledger in one transaction, as in flight (SENT), before the first is handed to the
        broker; then each is sent and its answer recorded as `submit` does. Known intents are
        not sent again (ALREADY_SUBMITTED).
        """
        self._require_agreement()
        outcomes: list[OrderOutcome | None] = [None] * len(intents)
        approved: list[tuple[int, OrderIntent, str, RiskDecision]] = []
        seen: set[str] = set()
        for i, intent in enumerate(intents):
            cid = client_order_id_for(intent)
            if cid in seen or self.ledger.order(cid) is not None:
                continue  # resolved below, after the new ones are written
            seen.add(cid)
            context = self._context(intent, equity, pending=[a[1] for a in approved])
            decision: RiskDecision = self._check(intent, context)
            self._record_state_changes()
            if not decision.approved:
                outcomes[i] = self._deny(intent, cid, decision)
            else:
                approved.append((i, intent, cid, decision))
        if approved:
            self.ledger.record_intents([self._intent_row(intent, cid) for _, intent, cid, _ in approved],
                                       sent_source="gated-broker")
        written_at = time.perf_counter()
        for i, intent, cid, decision in approved:
            outcomes[i] = self._send(intent, cid, decision, written_at=written_at)
        for i, intent in enumerate(intents):
            if outcomes[i] is None:
                outcomes[i] = self.submit(intent, equity=equity)  # a known intent: ALREADY_SUBMITTED
        return [o for o in outcomes if o is not None]

    def _intent_row(self, intent: OrderIntent, cid: str) -> IntentRow:
        return IntentRow(
            client_order_id=cid, venue=self.venue, symbol=intent.symbol, side=intent.side,
            order_type=intent.type, qty=intent.qty, price=intent.price, account=self.account,
            deployment=intent.deployment, source="gate",
            payload={"reduce_only": bool(getattr(intent, "reduce_only", False)), "actor": self.actor},
        )

    def _check(self, intent: OrderIntent, context: RiskContext) -> RiskDecision:
        """Ask the gate, timing the decision for quantdesk_risk_check_seconds."""
        started = time.perf_counter()
        decision: RiskDecision = self.gate.check(intent, context)
        record_risk_check(seconds=time.perf_counter() - started,
                          denied_code=None if decision.approved else str(decision.code))
        return decision

    def _send(self, intent: OrderIntent, cid: str, decision: RiskDecision, *, written_at: float) -> OrderOutcome:
        """Hand a recorded (SENT) intent to the broker and record the answer (`written_at`: perf_counter then)."""
        outcome = self._send_and_record(intent, cid, decision)
        # intent written -> answer written (an unanswered order has no answer: counted, not timed)
        if outcome.status is not OrderStatus.SENT:
            record_order_seconds(venue=self.venue, seconds=time.perf_counter() - written_at)
        record_order(venue=self.venue, side=intent.side,
                     outcome=OrderResult.FAILED if outcome.status is OrderStatus.SENT else order_result(outcome.status))
        return outcome

    def _send_and_record(self, intent: OrderIntent, cid: str, decision: RiskDecision) -> OrderOutcome:
        try:
            answer = self.broker.create_order(intent)
        except OrderStateUnknownError as e:
            self._audit("order.in_flight", intent, cid, error=str(e))
            self._notify(NotificationLevel.WARNING, f"order {cid} unanswered", str(e))
            return OrderOutcome(client_order_id=cid, approved=True, code=decision.code, detail=decision.detail,
                                status=OrderStatus.SENT, order=self.ledger.order(cid), error=str(e))
        except BrokerError as e:
            # a definite answer: the venue refused it (or we were not allowed to send it)
            with self._unit():  # the answer and its audit entry: both or neither, one commit
                row = self.ledger.update_order(cid, OrderStatus.REJECTED, source="venue",
                                               payload={"error": type(e).__name__, "message": str(e)})
                self._audit("order.rejected", intent, cid, error=str(e))
            self._notify(NotificationLevel.ERROR, f"order {cid} rejected by {self.venue}", str(e))
            return OrderOutcome(client_order_id=cid, approved=True, code=decision.code, detail=decision.detail,
                                status=OrderStatus.REJECTED, order=row, error=f"{type(e).__name__}: {e}")
        # the fills are read from the venue first: the write transaction below never waits on a round trip
        fills = self._pull_fills(answer)
        with self._unit():  # the answer, its fills and the audit entry: all or none, one commit
            row, recorded = self._record_answer(answer, fills)
            self._audit("order.submitted", intent, cid, status=str(row.status), venue_order_id=row.venue_order_id)
        self._notify(NotificationLevel.INFO, f"order {cid} {row.status}",
                     f"{intent.side} {intent.qty} {intent.symbol} on {self.venue}: {row.status}")
        return OrderOutcome(client_order_id=cid, approved=True, code=decision.code, detail=decision.detail,
                            status=row.status, order=row, fills=recorded)

    def record_equity(self, equity: Decimal, *, deployment: str) -> StateChange | None:
        """Tell the gate the deployment's equity; a tripped loss limit is stored and notified.

        Return the state change (REDUCING/HALTED) or None. The live runner calls this every bar.
        """
        change = self.gate.on_equity(equity, deployment=deployment)
        self._record_state_changes()
        return change

    def _record_state_changes(self) -> None:
        pop = getattr(self.gate, "pop_state_changes", None)
        for change in pop() if pop is not None else ():
            deployment = change.scope.split(":", 1)[1] if change.scope.startswith("deployment:") else None
            self.ledger.record_risk_event(
                code=str(change.code), detail=change.reason, deployment=deployment, venue=self.venue,
                intent={"scope": change.scope, "previous": str(change.previous), "state": str(change.state)},
                approved=False,
            )
            self._notify(NotificationLevel.ERROR, f"trading state {change.scope} -> {change.state}", change.reason)

    def cancel(self, client_order_id: str) -> OrderOutcome:
        """Cancel an order through the gate's cancel-rate limits; allowed in every trading state."""
        self._require_agreement()
        row = self.ledger.order(client_order_id)
        if row is None:
            raise OrderNotFoundError(f"the ledger has no order {client_order_id!r}; list them with `quantdesk orders`")
        if row.status.is_final:
            return OrderOutcome(client_order_id=client_order_id, approved=True, code="ALREADY_FINAL",
                                detail=f"order is already {row.status}", status=row.status, order=row)
        decision = self.gate.check_cancel(deployment=row.deployment or "manual", symbol=row.symbol)
        if not decision.approved:
            self.ledger.record_risk_event(code=str(decision.code), detail=decision.detail, deployment=row.deployment,
                                          venue=self.venue, symbol=row.symbol,
                                          intent={"cancel": client_order_id})
            self._notify(NotificationLevel.WARNING, f"cancel {client_order_id} denied: {decision.code}", decision.detail)
            return OrderOutcome(client_order_id=client_order_id, approved=False, code=str(decision.code),
                                detail=decision.detail, status=row.status, order=row)
        answer = self.broker.cancel_order(client_order_id, row.symbol)
        new, _ = self._record_answer(answer)
        self.ledger.audit(self.actor, "order.cancel", {"client_order_id": client_order_id, "venue": self.venue,
                                                       "status": str(new.status)})
        self._notify(NotificationLevel.INFO, f"order {client_order_id} {new.status}", f"cancel on {self.venue}")
        return OrderOutcome(client_order_id=client_order_id, approved=True, code=str(decision.code),
                            detail=decision.detail, status=new.status, order=new)

    def resolve_in_flight(self) -> list[OrderRecord]:
        """Look every unacknowledged order up at the venue and record what it says; return the rows."""
        resolved = []
        for row in self.ledger.in_flight_orders(venue=self.venue):
            try:
                answer = self.broker.fetch_order(row.client_order_id, row.symbol)
            except OrderNotFoundError:
                resolved.append(self.ledger.update_order(
                    row.client_order_id, OrderStatus.REJECTED, source="lookup",
                    payload={"reason": "the venue has no order with this client order id"}))
                continue
            except BrokerError as e:
                log.warning("order %s still in flight: %s", row.client_order_id, e)
                continue
            resolved.append(self._record_answer(answer)[0])
        return resolved

    def sync_fills(self) -> int:
        """Pull the venue's fills for every symbol the ledger trades and record them; return how many were new."""
        report = self.reconcile()
        return len(report.recorded_fills)

    def positions(self) -> list[PositionRecord]:
        """Return the ledger's positions (sums of unique fills) on this venue."""
        return self.ledger.positions(venue=self.venue, account=self.account)

    # -- helpers -----------------------------------------------------------------------------
    def _record_answer(self, answer: BrokerOrder, fills: list[BrokerFill] | None | object = _UNKNOWN
                       ) -> tuple[OrderRecord, tuple[FillRecord, ...]]:
        """Apply a venue answer and record its fills (`fills`: pulled already, else pulled here).

        Return the order's row and the fills recorded.
        """
        # a final order keeps its state; the filled qty only grows (answers may come late or twice)
        row, applied = self.ledger.record_answer(
            answer.client_order_id, answer.status, venue_order_id=answer.venue_order_id,
            filled_qty=answer.filled_qty, avg_price=answer.average_price, source="venue",
        )
        recorded: tuple[FillRecord, ...] = ()
        if applied and answer.filled_qty > 0:
            pulled = self._pull_fills(answer) if fills is _UNKNOWN else fills
            if isinstance(pulled, list) and pulled:
                recorded = self._record_fills(answer, pulled, order=row)
        return row, recorded

    def _pull_fills(self, answer: BrokerOrder) -> list[BrokerFill] | None:
        """Return the venue's fills of `answer`'s order (None when they cannot be read now)."""
        if answer.filled_qty <= 0:
            return []
        try:
            fills = self.broker.fills_since(answer.created_at, answer.symbol)
        except BrokerError as e:  # reconciliation picks them up later
            log.warning("fills of %s not pulled yet: %s", answer.client_order_id, e)
            return None
        return [f for f in fills if f.client_order_id == answer.client_order_id
                or (f.venue_order_id is not None and f.venue_order_id == answer.venue_order_id)]

    def _unit(self) -> AbstractContextManager[object]:
        """The ledger's unit of work where it has one (a stand-in ledger in tests may not)."""
        unit = getattr(self.ledger, "unit", None)
        return unit() if unit is not None else nullcontext()

    def _record_fills(self, answer: BrokerOrder, fills: list[BrokerFill], *,
                      order: OrderRecord) -> tuple[FillRecord, ...]:
        """Record the fills of `order` (its row: no lookup per fill); return them as stored."""
        recorded = []
        for fill in fills:
            recorded.append(self.ledger.record_fill(
                venue=self.venue, account=self.account, trade_id=fill.trade_id, symbol=fill.symbol,
                side=fill.side, qty=fill.qty, price=fill.price, ts=fill.ts, fee=fill.fee,
                fee_currency=fill.fee_currency, client_order_id=answer.client_order_id,
                venue_order_id=fill.venue_order_id, order=order,
            ))
            on_fill = getattr(self.gate, "on_fill", None)
            if on_fill is not None:
                on_fill(deployment=order.deployment or "manual", symbol=fill.symbol)
        record_fills(venue=self.venue, count=len(recorded))
        return tuple(recorded)

    def _context(self, intent: OrderIntent, equity: Decimal | None = None, pending: Sequence[OrderIntent] = (),
                 view: PretradeView | None = None) -> RiskContext:
        if view is not None:  # read with the known-order check (Ledger.pretrade)
            positions, active = dict(view.positions), dict(view.active_orders)
        else:
            positions = {p.symbol: p.qty for p in self.ledger.positions(venue=self.venue, account=self.account)}
            active = dict(self.ledger.active_order_counts(venue=self.venue))  # open + in flight
        for o in pending:  # approved in this batch, not written yet
            active[o.symbol] = active.get(o.symbol, 0) + 1
        prices = {}
        rules = dict(self.market_rules)
        leverage, entries, marks = {}, {}, {}
        try:
            last_price = getattr(self.broker, "last_price", None)
            price = last_price(intent.symbol) if last_price is not None else None
            if price is not None:
                prices[intent.symbol] = price
            if intent.symbol not in rules and hasattr(self.broker, "market_rules"):
                found = self.broker.market_rules(intent.symbol)
                if found is not None:
                    rules[intent.symbol] = found
            # a perpetual: the account's leverage and the position's entry and mark prices, so
            # the gate's max_leverage and min_liquidation_distance_pct rules can judge the order
            futures_position = getattr(self.broker, "futures_position", None)
            futures = futures_position(intent.symbol) if futures_position is not None else None
            if futures is not None:
                leverage[intent.symbol] = futures.leverage
                if futures.entry_price is not None:
                    entries[intent.symbol] = futures.entry_price
                if futures.mark_price is not None:
                    marks[intent.symbol] = futures.mark_price
        except BrokerError as e:
            # without market data the gate decides on what it has (it denies what needs a price)
            log.warning("market data for %s unavailable: %s", intent.symbol, e)
        return RiskContext(positions=positions, last_prices=prices, mark_prices={**prices, **marks},
                           active_orders=active, market_rules=rules, equity=equity, leverage=leverage,
                           entry_prices=entries)

    def _deny(self, intent: OrderIntent, cid: str, decision: RiskDecision) -> OrderOutcome:
        self.ledger.record_risk_event(
            code=str(decision.code), detail=decision.detail, intent=_intent_dict(intent, cid),
            approved=False, deployment=intent.deployment, venue=self.venue, symbol=intent.symbol,
        )
        self._audit("order.denied", intent, cid, code=str(decision.code), detail=decision.detail)
        record_order(venue=self.venue, side=intent.side, outcome=OrderResult.DENIED)
        self._notify(NotificationLevel.WARNING, f"order denied: {decision.code}",
                     f"{intent.side} {intent.qty} {intent.symbol} on {self.venue}: {decision.detail}")
        return OrderOutcome(client_order_id=cid, approved=False, code=str(decision.code), detail=decision.detail)

    def _audit(self, action: str, intent: OrderIntent, cid: str, **extra: object) -> None:
        self.ledger.audit(self.actor, action, {**_intent_dict(intent, cid), **extra})

    def _notify(self, level: NotificationLevel, title: str, body: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(Notification(level=level, title=title, body=body))


def _intent_dict(intent: OrderIntent, cid: str) -> dict[str, Any]:
    return {
        "client_order_id": cid, "deployment": intent.deployment, "venue": getattr(intent, "venue", None),
        "symbol": intent.symbol, "side": str(intent.side), "type": str(intent.type), "qty": str(intent.qty),
        "price": None if intent.price is None else str(intent.price),
    }


def _summary(report: ReconcileReport) -> str:
    return (f"adopted {len(report.adopted_orders)}, corrected {len(report.corrected_orders)}, "
            f"closed {len(report.closed_orders)}, fills {len(report.recorded_fills)}, "
            f"unresolved {len(report.unresolved)}")
