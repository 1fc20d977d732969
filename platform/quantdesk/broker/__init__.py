"""Brokers: paper and ccxt behind one gate (DESIGN.md, contract 5 "One way out").

Only `GatedBroker` may be used to trade: intent -> RiskGate -> ledger (intent) ->
broker -> ledger (answer) -> notification. `reconcile` compares ledger and venue and
runs on every gated broker start.
"""

from quantdesk.broker.ccxt_broker import CcxtBroker
from quantdesk.broker.errors import map_ccxt_error, redact
from quantdesk.broker.gated import GatedBroker, OrderOutcome
from quantdesk.broker.paper import PaperBroker
from quantdesk.broker.reconcile import ReconcileReport, reconcile
from quantdesk.broker.types import (
    Balance,
    Broker,
    BrokerFill,
    BrokerOrder,
    FuturesPosition,
    client_order_id_for,
    derive_client_order_id,
    is_valid_client_order_id,
)

__all__ = [
    "Balance",
    "Broker",
    "BrokerFill",
    "BrokerOrder",
    "CcxtBroker",
    "FuturesPosition",
    "GatedBroker",
    "OrderOutcome",
    "PaperBroker",
    "ReconcileReport",
    "client_order_id_for",
    "derive_client_order_id",
    "is_valid_client_order_id",
    "map_ccxt_error",
    "reconcile",
    "redact",
]
