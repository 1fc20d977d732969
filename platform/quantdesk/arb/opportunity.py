"""An opportunity as the desk sees it, and its life: opened once, seen while it lasts, closed when gone.

`OpportunityTracker` turns successive scans into episodes. An opportunity (a key: kind,
markets, venues and sides) that appears opens an episode: stored and notified once, through
an `OpportunityStore` (the ledger's `LedgerOpportunities` stores the row and its
`arb_opportunity` message in one transaction). While later scans of the same scope keep
seeing it, nothing is sent again (the store is touched at most every `touch_every_ms`);
when a scan of its scope no longer sees it, the episode is closed. Reappearing later is a
new episode. The scanner never sends an order: this is where its findings end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.types import Side

__all__ = ["Opportunity", "OpportunityKind", "OpportunityLeg", "OpportunityStore", "OpportunityTracker",
           "TrackerUpdate", "key_markets"]


class OpportunityKind(StrEnum):
    CROSS_VENUE = "cross_venue"
    TRIANGULAR = "triangular"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpportunityLeg:
    """One order the opportunity would take (never sent by the scanner)."""

    venue: str
    symbol: str
    side: Side
    qty: Decimal
    avg_price: Decimal
    fee: Decimal
    fee_currency: str
    limit_price: Decimal
    levels: int

    def to_json(self) -> dict[str, Any]:
        return {"venue": self.venue, "symbol": self.symbol, "side": self.side.value, "qty": str(self.qty),
                "avg_price": str(self.avg_price), "fee": str(self.fee), "fee_currency": self.fee_currency,
                "limit_price": str(self.limit_price), "levels": self.levels}


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """An executable spread for a size, after depth, fees, lot/tick rounding (and transfers, across venues)."""

    kind: OpportunityKind
    scope: str  # what one scan covers: `cross_venue:BTC/USDT` (a symbol), `triangular:binance` (a venue)
    legs: tuple[OpportunityLeg, ...]
    size: Decimal
    size_unit: str  # "base" or "quote"
    size_currency: str
    edge_bps: Decimal
    profit_quote: Decimal
    quote_currency: str
    book_age_ms: int  # the oldest book it was priced on
    book_ages: Mapping[str, int] = field(default_factory=dict)  # "venue symbol" -> age in ms
    detected_at: datetime
    transfer_cost: Decimal | None = None
    transfer_cost_source: str | None = None
    conversions: tuple[Mapping[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Return what makes two scans' findings the same opportunity: its scope, markets, venues and sides."""
        return f"{self.scope}|" + ",".join(f"{leg.side.value}:{leg.symbol}@{leg.venue}" for leg in self.legs)

    @property
    def summary(self) -> str:
        """Return one line: `buy 0.5 BTC/USDT on a, sell on b: 28.1 bps, 84.2 USDT`."""
        route = " → ".join(f"{leg.side.value} {leg.symbol}@{leg.venue}" for leg in self.legs)
        return (f"{route}: {self.edge_bps.quantize(Decimal('0.01'))} bps, "
                f"{self.profit_quote.quantize(Decimal('0.0001'))} {self.quote_currency}")

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's JSON shape (amounts as exact decimal strings)."""
        out: dict[str, Any] = {
            "kind": self.kind.value, "scope": self.scope, "legs": [leg.to_json() for leg in self.legs], "size": str(self.size),
            "size_unit": self.size_unit, "size_currency": self.size_currency, "edge_bps": str(self.edge_bps),
            "profit_quote": str(self.profit_quote), "quote_currency": self.quote_currency,
            "book_age_ms": self.book_age_ms, "book_ages": dict(self.book_ages), "key": self.key,
            "detected_at": self.detected_at.isoformat(),
        }
        if self.kind is OpportunityKind.CROSS_VENUE:
            out["transfer_cost"] = None if self.transfer_cost is None else str(self.transfer_cost)
            out["transfer_cost_source"] = self.transfer_cost_source
            out["conversions"] = [dict(c) for c in self.conversions]
        return out


class OpportunityStore(Protocol):
    """Where episodes are kept (the ledger's `LedgerOpportunities`); all values JSON-ready."""

    def open(self, record: Mapping[str, Any]) -> bool:
        """Store a new episode and enqueue its notification; False when one with its key is already open."""
        ...

    def touch(self, key: str, *, seen_at: datetime, edge_bps: Decimal, observations: int) -> None:
        """Note that an open episode was seen again."""
        ...

    def close_missing(self, scope: str, keep: Iterable[str], *, at: datetime,
                      closable: Callable[[str], bool] | None = None) -> list[str]:
        """Close the open episodes of `scope` (keys `scope|...`) not in `keep` (and `closable`); return their keys."""
        ...


@dataclass(slots=True)
class _Episode:
    opportunity: Opportunity
    best_edge_bps: Decimal
    observations: int
    touched_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackerUpdate:
    """What one scan changed: episodes opened (notified), still open, closed."""

    opened: tuple[Opportunity, ...] = ()
    ongoing: tuple[Opportunity, ...] = ()
    closed: tuple[str, ...] = ()


class OpportunityTracker:
    """Open, keep and close episodes from scans of one scope at a time (see the module doc)."""

    def __init__(self, store: OpportunityStore | None = None, *, clock: Clock | None = None,
                 touch_every_ms: int = 1_000) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.touch_every_ms = touch_every_ms
        self._open: dict[str, dict[str, _Episode]] = {}  # scope -> key -> episode
        self._reconciled: set[str] = set()

    @property
    def open_keys(self) -> list[str]:
        return sorted(key for episodes in self._open.values() for key in episodes)

    def observe(self, scope: str, seen: Iterable[Opportunity], *, unknown: Iterable[str] = ()) -> TrackerUpdate:
        """Record one scan of `scope` (e.g. `cross_venue:BTC/USDT`) that found `seen`.

        `unknown` names the markets (`SYMBOL@VENUE`) whose books the scan could not use (stale,
        refused, not there yet). An open episode the scan did not find is closed, unless one of
        its legs is on such a market: what cannot be seen is not known to be gone. It is not
        seen either (no sighting is recorded), and closes once fresh books no longer show it.
        """
        now = self.clock.now()
        now_ms = int(now.timestamp() * 1000)
        found = {o.key: o for o in seen}
        blind = set(unknown)
        episodes = self._open.setdefault(scope, {})

        def closable(key: str) -> bool:
            return not blind or not (key_markets(key) & blind)

        closed = [key for key in episodes if key not in found and closable(key)]
        for key in closed:
            del episodes[key]
        if self.store is not None and (closed or scope not in self._reconciled):
            # the first scan of a scope also closes what an earlier scan or process left open and is gone now
            closed += [key for key in self.store.close_missing(scope, found, at=now, closable=closable)
                       if key not in closed]
            self._reconciled.add(scope)
        opened, ongoing = [], []
        for key, opportunity in found.items():
            episode = episodes.get(key)
            if episode is None:
                episodes[key] = _Episode(opportunity, opportunity.edge_bps, 1, now_ms)
                if self.store is None or self.store.open(_record(opportunity)):
                    opened.append(opportunity)
                else:
                    ongoing.append(opportunity)  # open in the store already (an earlier scan or process)
                continue
            episode.opportunity = opportunity
            episode.observations += 1
            episode.best_edge_bps = max(episode.best_edge_bps, opportunity.edge_bps)
            ongoing.append(opportunity)
            if self.store is not None and now_ms - episode.touched_ms >= self.touch_every_ms:
                episode.touched_ms = now_ms
                self.store.touch(key, seen_at=now, edge_bps=opportunity.edge_bps, observations=episode.observations)
        return TrackerUpdate(opened=tuple(opened), ongoing=tuple(ongoing), closed=tuple(closed))


def key_markets(key: str) -> set[str]:
    """Return the markets (`SYMBOL@VENUE`) of an opportunity's key (`scope|side:SYMBOL@VENUE,...`)."""
    return {leg.split(":", 1)[1] for leg in key.partition("|")[2].split(",") if ":" in leg}


def _record(opportunity: Opportunity) -> dict[str, Any]:
    """The stored row of an opportunity (and its notification's payload), JSON-ready."""
    data = opportunity.to_json()
    return {**data, "summary": opportunity.summary, "detected_at": opportunity.detected_at}
