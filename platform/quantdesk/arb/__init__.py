"""Arbitrage the desk can act on: executable cross-venue and triangular spreads from fresh order books.

The arithmetic (`cross_venue_edge`, `evaluate_cycle`) works on ccxt-shaped books, so a notebook
can use it on any two books; the scanners read books through `quantdesk.ingest`'s client
factory (`quantdesk.arb.feeds`) and never send an order.
"""

from quantdesk.arb.edge import CrossVenueEdge, Leg, Size, SizeUnit, cross_venue_edge
from quantdesk.arb.freshness import BookSnapshot, BookStore, DiffBook, StaleBook
from quantdesk.arb.opportunity import (
    Opportunity,
    OpportunityKind,
    OpportunityLeg,
    OpportunityTracker,
)
from quantdesk.arb.scanner import CrossVenueScanner, Listing, RateSeries, SymbolScan
from quantdesk.arb.transfers import TransferCosts
from quantdesk.arb.triangles import Cycle, CycleResult, Quote, evaluate_cycle, find_cycles

__all__ = [
    "BookSnapshot",
    "BookStore",
    "CrossVenueEdge",
    "CrossVenueScanner",
    "Cycle",
    "CycleResult",
    "DiffBook",
    "Leg",
    "Listing",
    "Opportunity",
    "OpportunityKind",
    "OpportunityLeg",
    "OpportunityTracker",
    "Quote",
    "RateSeries",
    "Size",
    "SizeUnit",
    "StaleBook",
    "SymbolScan",
    "TransferCosts",
    "cross_venue_edge",
    "evaluate_cycle",
    "find_cycles",
]
