"""Triangular cycles on one venue: found as negative cycles of −log(rate·(1 − fee)), then walked with depth.

Each market BASE/QUOTE gives two edges between currencies: QUOTE→BASE (buy at the best ask,
rate 1/ask) and BASE→QUOTE (sell at the best bid, rate bid), each of weight
−log(rate·(1 − taker fee)). A cycle whose weights sum below zero turns one unit into more
than one at the top of the books. The search is Bellman-Ford limited to `legs` hops, run
from every currency at once (numpy over the edge list): `legs − 1` rounds of relaxation give
the cheapest (legs − 1)-hop path between any two currencies, and each edge closes one
candidate cycle (the cheapest path from its head back to its tail, plus the edge). Every
negative cycle whose edges are each the close of that cheapest path is found, without
enumerating triples; 200 markets take a few milliseconds (bench/arb.py).

The top of the book only bounds what a size can earn; `evaluate_cycle` then walks each leg's
book for the size, with lot rounding and fees, exactly (Decimal), and decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from quantdesk.arb.books import MarketRules, book_side, qty_for_quote, round_price, take
from quantdesk.arb.edge import BPS, Leg
from quantdesk.core.errors import ArbitrageError, DepthExhaustedError
from quantdesk.core.money import to_decimal
from quantdesk.core.types import Side

__all__ = ["Cycle", "CycleEdge", "CycleResult", "Quote", "evaluate_cycle", "find_cycles"]

_EPSILON = 1e-12  # below float noise of a sum of three logs; a real edge is larger by orders


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """The top of one market's book and its taker fee rate: what the cycle search needs."""

    symbol: str
    bid: float | None
    ask: float | None
    fee: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleEdge:
    """One leg of a cycle: trade `symbol` on `side`, turning `source` into `target`."""

    symbol: str
    side: Side
    source: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cycle:
    """A cycle of markets starting and ending in `start`; `log_edge` is −Σ weights (> 0 means profit at the top)."""

    start: str
    edges: tuple[CycleEdge, ...]
    log_edge: float

    @property
    def top_edge_bps(self) -> float:
        """Return the top-of-book edge after fees, in basis points."""
        return math.expm1(self.log_edge) * 1e4

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(e.source for e in self.edges)


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleResult:
    """A cycle walked with depth for a starting amount: each leg, what came back, the edge."""

    cycle: Cycle
    legs: tuple[Leg, ...]
    spent: Decimal  # of the start currency, after lot rounding of the first leg
    received: Decimal  # of the start currency, after the last leg's fee
    profit: Decimal
    edge_bps: Decimal


def _split(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote.split(":")[0]


def find_cycles(quotes: Sequence[Quote], *, legs: int = 3, start: str | None = None) -> list[Cycle]:
    """Return the cycles of `legs` markets whose top-of-book product after fees exceeds 1, best first.

    With `start`, only cycles through that currency, rotated to begin there (a desk holds it).
    """
    if legs < 3:
        raise ArbitrageError(f"a cycle needs at least 3 markets, not {legs}")
    index: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []
    weight: list[float] = []
    origin: list[tuple[int, Side]] = []  # (quote's position, side) of each edge
    for position, quote in enumerate(quotes):
        base, quote_currency = _split(quote.symbol)
        b, q = index.setdefault(base, len(index)), index.setdefault(quote_currency, len(index))
        keep = math.log1p(-quote.fee)
        if quote.ask and quote.ask > 0:  # buy base with quote
            src.append(q)
            dst.append(b)
            weight.append(math.log(quote.ask) - keep)
            origin.append((position, Side.BUY))
        if quote.bid and quote.bid > 0:  # sell base for quote
            src.append(b)
            dst.append(q)
            weight.append(-math.log(quote.bid) - keep)
            origin.append((position, Side.SELL))
    if not origin or (start is not None and start not in index):
        return []
    n = len(index)
    s, d, w = np.asarray(src), np.asarray(dst), np.asarray(weight)
    adjacency = np.full((n, n), np.inf)  # the cheapest edge between each ordered pair (two markets: the better)
    np.minimum.at(adjacency, (s, d), w)
    edge_of = np.full((n, n), -1)
    best = w == adjacency[s, d]
    edge_of[s[best], d[best]] = np.flatnonzero(best)
    by_head = np.argsort(d, kind="stable")
    heads, first = np.unique(d[by_head], return_index=True)
    # Bellman-Ford relaxation from every source at once: paths[r][x, v] = cheapest (r + 1)-hop path x -> v
    paths = [adjacency]
    for _ in range(legs - 2):
        relaxed = np.full((n, n), np.inf)
        relaxed[:, heads] = np.minimum.reduceat(paths[-1][:, s[by_head]] + w[by_head], first, axis=1)
        paths.append(relaxed)
    closing = paths[-1][d, s] + w  # each edge u -> x closes the cheapest path x -> ... -> u
    found = np.flatnonzero((closing < -_EPSILON) & (edge_of[s, d] == np.arange(len(w))))
    if not found.size:
        return []
    rings = _walk_back(paths, adjacency, d[found], s[found])  # one row of currencies per candidate
    ordered = np.sort(rings, axis=1)
    keep = (np.diff(ordered, axis=1) != 0).all(axis=1)  # a walk that revisits: its simple part closes elsewhere
    if start is not None:
        keep &= (rings == index[start]).any(axis=1)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(closing[found[rows]], kind="stable")]  # best first
    edge_ids = edge_of[rings[rows], np.roll(rings[rows], -1, axis=1)]  # each row's edges, in cycle order
    _, first = np.unique(np.sort(edge_ids, axis=1), axis=0, return_index=True)  # a cycle closed by several edges
    names = list(index)
    cycles = []
    for row, ids in zip(rows[np.sort(first)], edge_ids[np.sort(first)], strict=True):
        edges = []
        for k in ids:
            position, side = origin[int(k)]
            edges.append(CycleEdge(symbol=quotes[position].symbol, side=side, source=names[s[k]], target=names[d[k]]))
        cycles.append(_rotated(edges, -float(closing[found[row]]), start))
    return cycles  # best first


def _walk_back(paths: list[np.ndarray], adjacency: np.ndarray, origins: np.ndarray, lasts: np.ndarray) -> np.ndarray:
    """Return, per candidate, the currencies of the cheapest path origin -> ... -> last the relaxation found."""
    nodes = [lasts]
    for r in range(len(paths) - 1, 0, -1):  # paths[r] was relaxed from paths[r - 1] through one more edge
        nodes.insert(0, np.argmin(paths[r - 1][origins, :] + adjacency[:, nodes[0]].T, axis=1))
    nodes.insert(0, origins)
    return np.stack(nodes, axis=1)


def _rotated(edges: list[CycleEdge], log_edge: float, start: str | None) -> Cycle:
    sources = [e.source for e in edges]
    first = sources.index(start) if start is not None else sources.index(min(sources))  # one rotation per cycle
    ordered = tuple(edges[first:] + edges[:first])
    return Cycle(start=ordered[0].source, edges=ordered, log_edge=log_edge)


def evaluate_cycle(cycle: Cycle, amount: Decimal, books: Mapping[str, Mapping[str, Any]],
                   markets: Mapping[str, Mapping[str, Any] | None], fees: Mapping[str, Decimal]) -> CycleResult:
    """Walk `cycle` starting with `amount` of `cycle.start`, leg by leg, on the books, with lots and fees.

    A buy spends what the previous leg gave (the quantity it buys is rounded down to the lot;
    the unspent remainder stays where it is and is not counted); the fee is taken from what a
    leg receives (Binance's rule for spot takers). Raise DepthExhaustedError naming the leg
    when a book is too thin.
    """
    holding = to_decimal(amount)
    if holding <= 0:
        raise ArbitrageError(f"size {amount} must be a positive amount of {cycle.start}, e.g. 1000")
    spent: Decimal | None = None
    legs: list[Leg] = []
    for edge in cycle.edges:
        book, rules, fee = books[edge.symbol], MarketRules.of(markets.get(edge.symbol)), to_decimal(fees[edge.symbol])
        try:
            if edge.side is Side.BUY:
                qty = rules.round_qty(qty_for_quote(book_side(book, "asks"), holding))
                fill = take(book_side(book, "asks"), qty, side="asks") if qty > 0 else None
                paid, received = (fill.notional, qty * (1 - fee)) if fill else (Decimal(0), Decimal(0))
            else:
                qty = rules.round_qty(holding)
                fill = take(book_side(book, "bids"), qty, side="bids") if qty > 0 else None
                paid, received = (qty, fill.notional * (1 - fee)) if fill else (Decimal(0), Decimal(0))
        except DepthExhaustedError as e:
            raise DepthExhaustedError(f"{edge.symbol} ({edge.side.value}): {e}", levels=e.levels) from None
        except ArbitrageError as e:
            raise ArbitrageError(f"{edge.symbol} ({edge.side.value}): {e}") from None
        if fill is None:
            raise ArbitrageError(f"{edge.symbol} ({edge.side.value}): {holding} {edge.source} is less than one lot "
                                 f"({rules.lot}); use a larger size")
        spent = paid if spent is None else spent
        gross = qty if edge.side is Side.BUY else fill.notional
        legs.append(Leg(side=edge.side, qty=qty, avg_price=fill.avg_price,
                        limit_price=round_price(fill.worst_price, rules.tick, up=edge.side is Side.BUY),
                        notional=fill.notional, fee=gross * fee, levels=fill.levels))
        holding = received
    assert spent is not None
    profit = holding - spent
    return CycleResult(cycle=cycle, legs=tuple(legs), spent=spent, received=holding, profit=profit,
                       edge_bps=profit / spent * BPS)
