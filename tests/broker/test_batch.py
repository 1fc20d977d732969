"""The batch path: `GatedBroker.submit_many` writes every approved intent before the first send."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantdesk.broker import GatedBroker, PaperBroker
from quantdesk.core import ManualClock, OrderIntent, OrderStatus, OrderType, Side
from quantdesk.ledger import Ledger
from quantdesk.risk import RiskConfig, RiskGate

from .conftest import START

SYMBOLS = ("AAA/USDT", "BBB/USDT", "CCC/USDT")


class LedgerCheckingBroker(PaperBroker):
    """A paper broker that, on every send, notes what the ledger already holds."""

    def __init__(self, ledger: Ledger, **kw: Any) -> None:
        super().__init__(**kw)
        self.ledger = ledger
        self.seen: list[tuple[str, dict[str, OrderStatus | None]]] = []
        self.watch: list[str] = []

    def create_order(self, intent: Any) -> Any:
        rows = {cid: self.ledger.order(cid) for cid in self.watch}
        self.seen.append((intent.client_order_id, {c: None if r is None else r.status for c, r in rows.items()}))
        return super().create_order(intent)


def _intent(cid: str, symbol: str, qty: str = "1") -> OrderIntent:
    return OrderIntent(client_order_id=cid, deployment="dep", venue="paper", symbol=symbol, side=Side.BUY,
                       type=OrderType.MARKET, qty=Decimal(qty), price=None, ts=START)


def _setup(tmp_path: Any, risk: dict[str, Any] | None = None) -> tuple[Ledger, LedgerCheckingBroker, GatedBroker]:
    clock = ManualClock(START)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock)
    broker = LedgerCheckingBroker(ledger, name="paper", clock=clock)
    for s in SYMBOLS:
        broker.update_price(s, 10)
    gate = RiskGate(RiskConfig.from_dict(risk or {}), clock, ledger)
    gated = GatedBroker(broker, ledger, gate, venue="paper", clock=clock, actor="test")
    gated.start()
    return ledger, broker, gated


def test_submit_many_records_every_intent_before_the_first_send(tmp_path: Any) -> None:
    ledger, broker, gated = _setup(tmp_path)
    intents = [_intent(f"cid-{i}", s) for i, s in enumerate(SYMBOLS)]
    broker.watch = [i.client_order_id for i in intents]
    outcomes = gated.submit_many(intents)
    assert [o.client_order_id for o in outcomes] == broker.watch
    assert all(o.ok and o.status is OrderStatus.FILLED for o in outcomes)
    first_cid, first_view = broker.seen[0]
    assert first_cid == "cid-0"
    assert first_view == {cid: OrderStatus.SENT for cid in broker.watch}  # all durable and in flight
    for cid in broker.watch:  # the same history as `submit`: PENDING, SENT, then the venue's answer
        history = [e.to_status for e in ledger.order_history(cid)]
        assert history[:2] == [OrderStatus.PENDING, OrderStatus.SENT]
        assert history[-1] is OrderStatus.FILLED
    assert {p.symbol: p.qty for p in ledger.positions(venue="paper")} == {s: Decimal(1) for s in SYMBOLS}
    # a retry never sends again
    again = gated.submit_many(intents)
    assert [o.code for o in again] == ["ALREADY_SUBMITTED"] * 3
    assert len(broker.seen) == 3
    ledger.close()


def test_submit_many_stores_denials_and_sends_only_the_approved(tmp_path: Any) -> None:
    ledger, broker, gated = _setup(tmp_path, risk={"default": {"max_notional_per_order": 50}})
    intents = [_intent("small", SYMBOLS[0], "1"), _intent("big", SYMBOLS[1], "100")]
    outcomes = gated.submit_many(intents)
    assert [o.approved for o in outcomes] == [True, False]
    assert [cid for cid, _ in broker.seen] == ["small"]
    assert ledger.order("big") is None
    assert [e.code for e in ledger.risk_events()] == [outcomes[1].code]
    ledger.close()


def test_submit_writes_intent_and_sent_in_one_step(tmp_path: Any) -> None:
    ledger, broker, gated = _setup(tmp_path)
    broker.watch = ["one"]
    outcome = gated.submit(_intent("one", SYMBOLS[0]))
    assert outcome.ok
    assert broker.seen == [("one", {"one": OrderStatus.SENT})]
    assert [e.to_status for e in ledger.order_history("one")][:2] == [OrderStatus.PENDING, OrderStatus.SENT]
    ledger.close()
