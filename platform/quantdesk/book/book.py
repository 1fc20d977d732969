"""A book: open positions from the ledger with the daily returns of their assets from the lake.

`load_book` is what `quantdesk risk var`, the stress tests, the monitor's VaR series and the
gate's VaR model all start from, so they measure the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from quantdesk.book.deployments import deployment_infos
from quantdesk.book.history import DailySeries, LakeIndex, aligned_returns, daily_series
from quantdesk.book.positions import BookPosition, PositionTracker
from quantdesk.core.errors import RiskError

__all__ = ["QUOTE_ASSETS", "Book", "desk_equity", "load_book"]

# balances in these count at par in the quote currency (the desk's books are in USDT-like quotes)
QUOTE_ASSETS = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD", "DAI", "TUSD"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Positions (rows) on series (columns of `returns`, one per lake exchange and symbol)."""

    scope: str  # "desk" or the deployment's name
    positions: tuple[BookPosition, ...]
    series: tuple[DailySeries, ...]
    column: tuple[int, ...]  # each position's series
    days: tuple[date, ...]  # the days with a return of every series, oldest first
    returns: np.ndarray  # len(days) x len(series)

    @property
    def prices(self) -> np.ndarray:
        return np.array([s.price for s in self.series], dtype=float)

    @property
    def exposures(self) -> np.ndarray:
        """Each position's signed exposure in the quote currency: quantity times the newest price."""
        prices = self.prices
        return np.array([float(p.qty) * prices[c] for p, c in zip(self.positions, self.column, strict=True)])

    @property
    def as_of(self) -> date | None:
        return self.days[-1] if self.days else None

    def window(self, window_days: int, *, as_of: date | None = None) -> tuple[tuple[date, ...], np.ndarray]:
        """Return the return days in (as_of − window_days, as_of] and their rows."""
        end = as_of or self.as_of
        if end is None:
            return (), self.returns[:0]
        first = end - timedelta(days=window_days)
        keep = [i for i, d in enumerate(self.days) if first < d <= end]
        return tuple(self.days[i] for i in keep), self.returns[keep]

    def labels(self, by: str) -> list[str]:
        """Each position's group for contributions: deployment, venue, asset or position."""
        if by == "deployment":
            return [p.deployment for p in self.positions]
        if by == "venue":
            return [p.venue for p in self.positions]
        if by == "asset":
            return [p.asset for p in self.positions]
        if by == "position":
            return [f"{p.deployment}:{p.venue}:{p.symbol}" for p in self.positions]
        raise RiskError(f"unknown grouping {by!r}; use deployment, venue, asset or position")


def load_book(ledger: Any, lake: Any = None, *, deployment: str | None = None, history_days: int = 400,
              settings: Any = None, tracker: PositionTracker | None = None,
              extra: Sequence[tuple[str, str, str | None]] = (), allow_empty: bool = False) -> Book:
    """Read the desk's (or one deployment's) open positions and their assets' daily returns.

    `history_days`: how many days of returns to read; `extra`: (venue, symbol, exchange hint)
    series to include though no position holds them (the gate judges orders on them).
    """
    from quantdesk.core.settings import get_settings
    from quantdesk.lake import Lake

    settings = settings or get_settings()
    lake = lake or Lake()
    tracker = tracker or PositionTracker.load(ledger)
    if deployment is not None and deployment not in tracker.deployments and deployment != "manual":
        known = ", ".join(sorted(tracker.deployments)) or "none"
        raise RiskError(f"no deployment named {deployment!r} (known: {known}); see `quantdesk deployments`")
    positions = tuple(tracker.positions(deployment))
    if not positions and not extra and not allow_empty:
        who = "the desk" if deployment is None else f"deployment {deployment!r}"
        raise RiskError(f"{who} has no open positions: nothing is at risk")
    index = LakeIndex(lake, settings)
    keys: dict[tuple[str, str], int] = {}
    series: list[DailySeries] = []
    column: list[int] = []

    def add(venue: str, symbol: str, hint: str | None) -> int:
        exchange = index.resolve(symbol, venue=venue, hint=hint)
        key = (exchange, symbol)
        if key not in keys:
            keys[key] = len(series)
            series.append(daily_series(lake, exchange, symbol, days=history_days))
        return keys[key]

    for p in positions:
        column.append(add(p.venue, p.symbol, p.exchange))
    for venue, symbol, hint in extra:
        add(venue, symbol, hint)
    days, returns = aligned_returns(series)
    return Book(scope=deployment or "desk", positions=positions, series=tuple(series), column=tuple(column),
                days=days, returns=returns)


def desk_equity(ledger: Any, book: Book, settings: Any = None) -> float | None:
    """The desk's equity in the quote currency: each venue's latest balances at the lake's prices.

    Quote assets count at par; other assets at the newest price of a series of the book on that
    asset (assets without one are left out). Without any balance stored (venues never
    reconciled), the capital of the paper and live deployments; None when there is neither.
    """
    prices: dict[str, float] = {}
    for s in book.series:
        prices.setdefault(s.symbol.split("/", 1)[0], s.price)
    venues = sorted({p.venue for p in book.positions} | set(getattr(settings, "venues", {}) or {}))
    total, seen = 0.0, False
    for venue in venues:
        for asset, balance in ledger.latest_balances(venue=venue).items():
            seen = True
            if asset in QUOTE_ASSETS:
                total += float(balance.total)
            elif asset in prices:
                total += float(balance.total) * prices[asset]
    if seen:
        return total
    capital = [d.capital for d in deployment_infos(ledger).values() if d.tradable]
    return float(sum(capital, Decimal(0))) if capital else None
