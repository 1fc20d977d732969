"""The VaR and ES of the desk's book or of one deployment's, with contributions that add up.

Position-based historical simulation (and the other four methods on the same positions and
returns): each position's quote exposure (quantity × newest price) revalued under each day of
the window's returns of its asset (`quantdesk.risk.analytics.book_var`). `quantdesk risk var`
prints `BookVar.to_json()`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from quantdesk.book.book import Book, desk_equity, load_book
from quantdesk.book.deployments import deployment_infos
from quantdesk.core.errors import RiskError

__all__ = ["BookVar", "Contribution", "HORIZONS", "book_var_report", "measure_book"]

HORIZONS = {"1d": 1, "10d": 10}


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One group's Euler contribution (quote): the groups' sum is the total."""

    name: str
    var_quote: float
    es_quote: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BookVar:
    """A book's VaR and ES: the figures, what they were computed on, and who contributes what."""

    scope: str
    method: str
    confidence: float
    horizon: str
    window_days: int
    observations: int
    as_of: date | None
    var: float
    es: float
    var_quote: float
    es_quote: float
    gross_quote: float
    equity_quote: float | None
    contributions: tuple[Contribution, ...]
    by: str
    positions: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        """The `quantdesk risk var --json` document."""
        return {
            "method": self.method, "confidence": self.confidence, "horizon": self.horizon,
            "window_days": self.window_days, "observations": self.observations, "var": self.var, "es": self.es,
            "var_quote": self.var_quote, "es_quote": self.es_quote,
            "contributions": [{"name": c.name, "var_quote": c.var_quote, "es_quote": c.es_quote}
                              for c in self.contributions],
            "scope": self.scope, "by": self.by, "as_of": self.as_of.isoformat() if self.as_of else None,
            "gross_quote": self.gross_quote, "equity_quote": self.equity_quote,
            "var_pct_of_equity": None if not self.equity_quote else 100.0 * self.var_quote / self.equity_quote,
            "positions": list(self.positions),
        }


def _horizon_days(horizon: str) -> int:
    if horizon not in HORIZONS:
        raise RiskError(f"horizon {horizon!r} is not supported; use {' or '.join(HORIZONS)}")
    return HORIZONS[horizon]


def measure_book(book: Book, *, method: str = "historical", confidence: float = 0.99, horizon: str = "1d",
                 window_days: int = 365, by: str = "deployment", as_of: date | None = None,
                 equity: float | None = None, **options: Any) -> BookVar:
    """Return the VaR and ES of `book` over the `window_days` of returns up to `as_of` (default: newest)."""
    from quantdesk.risk.analytics import book_var

    if window_days < 1:
        raise RiskError(f"window {window_days}d is too short; give a window such as 365d")
    days, returns = book.window(window_days, as_of=as_of)
    exposures = book.exposures
    result = book_var(returns, exposures, book.column, confidence=confidence, method=method,
                      horizon_days=_horizon_days(horizon), **options)
    groups: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for label, v, e in zip(book.labels(by), result.var_contributions, result.es_contributions, strict=True):
        groups[label][0] += v
        groups[label][1] += e
    contributions = tuple(Contribution(name=k, var_quote=v, es_quote=e)
                          for k, (v, e) in sorted(groups.items(), key=lambda kv: -kv[1][0]))
    prices = book.prices
    positions = tuple({"deployment": p.deployment, "venue": p.venue, "symbol": p.symbol,
                       "exchange": book.series[c].exchange, "qty": str(p.qty), "price": prices[c],
                       "exposure_quote": x}
                      for p, c, x in zip(book.positions, book.column, exposures, strict=True))
    return BookVar(scope=book.scope, method=result.method.value, confidence=result.confidence, horizon=horizon,
                   window_days=window_days, observations=result.observations, as_of=days[-1] if days else None,
                   var=result.var, es=result.es, var_quote=result.var_quote, es_quote=result.es_quote,
                   gross_quote=result.gross_quote, equity_quote=equity, contributions=contributions, by=by,
                   positions=positions)


def book_var_report(ledger: Any, lake: Any = None, *, deployment: str | None = None, method: str = "historical",
                    confidence: float = 0.99, horizon: str = "1d", window_days: int = 365, by: str | None = None,
                    settings: Any = None, **options: Any) -> BookVar:
    """Return the VaR and ES of the desk (or of `deployment`) from the ledger's positions and the lake."""
    from quantdesk.risk.analytics.measures import check_confidence, check_method

    check_confidence(confidence)  # bad input fails before anything is read
    check_method(method)
    _horizon_days(horizon)
    book = load_book(ledger, lake, deployment=deployment, history_days=window_days + 15, settings=settings)
    if deployment is None:
        equity = desk_equity(ledger, book, settings)
    else:
        found = deployment_infos(ledger).get(deployment)
        equity = found.equity if found is not None else None
    return measure_book(book, method=method, confidence=confidence, horizon=horizon, window_days=window_days,
                        by=by or ("deployment" if deployment is None else "asset"), equity=equity, **options)
