"""The simulated venue: a local Binance spot REST server for the real ccxt client."""

from quantdesk.venue.auth import TEST_API_KEY, TEST_API_SECRET
from quantdesk.venue.client import binance_client
from quantdesk.venue.faults import Fault, FaultKind
from quantdesk.venue.market import MarketSpec
from quantdesk.venue.orders import FillPolicy, OrderState, SimOrder, SimTrade
from quantdesk.venue.server import RequestRecord
from quantdesk.venue.venue import SimulatedVenue

__all__ = [
    "TEST_API_KEY",
    "TEST_API_SECRET",
    "Fault",
    "FaultKind",
    "FillPolicy",
    "MarketSpec",
    "OrderState",
    "RequestRecord",
    "SimOrder",
    "SimTrade",
    "SimulatedVenue",
    "binance_client",
]
