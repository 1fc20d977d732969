"""The gate's VaR model: built once a UTC day from the ledger and the lake, exposures kept current.

`gate_var_source(ledger)` is what the desk's gates get (`quantdesk.broker.factory.open_gated`,
`quantdesk.live.service`): a callable returning the day's `quantdesk.risk.VarModel`. The matrices
(return scenarios, covariance, means) are rebuilt on the first check of a new day; the desk's,
each venue's and each deployment's exposures are re-read from the ledger's new fills at most
every `[risk.var] refresh_s` seconds (5 by default). An order on a symbol the model does not
hold yet rebuilds the model with it once (`extend`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np

from quantdesk.book.book import Book, desk_equity, load_book
from quantdesk.book.positions import PositionTracker

__all__ = ["DeskVarSource", "gate_var_source"]


class DeskVarSource:
    """Callable: the day's VaR model for the risk gate (thread-safe; builds lazily)."""

    def __init__(self, ledger: Any, lake: Any = None, settings: Any = None, clock: Any = None) -> None:
        from quantdesk.core.settings import get_settings
        from quantdesk.risk import RiskConfig

        self.ledger = ledger
        self.lake = lake
        self.settings = settings or get_settings()
        self.clock = clock or getattr(ledger, "_clock", None)
        self.var = RiskConfig.from_settings(self.settings).var_settings
        self._lock = threading.Lock()
        self._model: Any = None
        self._book: Book | None = None
        self._tracker: PositionTracker | None = None
        self._extra: list[tuple[str, str, str | None]] = []
        self._refreshed = 0.0

    def __call__(self) -> Any:
        with self._lock:
            today = self.clock.now().date().isoformat()
            if self._model is None or self._model.day != today:
                self._build(today)
            elif time.monotonic() - self._refreshed >= self.var.refresh_s:
                self._refresh()
            return self._model

    def extend(self, venue: str, symbol: str) -> Any:
        """Rebuild today's model with `symbol` (on `venue`) added; raise RiskError if the lake lacks it."""
        with self._lock:
            self._extra.append((venue, symbol, None))
            try:
                self._build(self.clock.now().date().isoformat())
            except Exception:
                self._extra.pop()
                raise
            return self._model

    def _build(self, today: str) -> None:
        from quantdesk.lake import Lake

        self.lake = self.lake or Lake()
        tracker = PositionTracker.load(self.ledger)
        extra = list(self._extra)
        for d in tracker.deployments.values():  # judge the first order of a flat deployment too
            if d.tradable:
                extra += [(d.venue, s, d.exchange) for s in d.symbols]
        book = load_book(self.ledger, self.lake, history_days=self.var.window_days + 15, settings=self.settings,
                         tracker=tracker, extra=extra, allow_empty=True)
        self._tracker, self._book = tracker, book
        self._model = self._make(today, book, tracker)
        self._refreshed = time.monotonic()

    def _refresh(self) -> None:
        assert self._tracker is not None and self._book is not None
        if self._tracker.update(self.ledger):
            self._model = self._make(self._model.day, self._book, self._tracker, returns=self._model.returns)
        self._refreshed = time.monotonic()

    def _make(self, today: str, book: Book, tracker: PositionTracker, returns: np.ndarray | None = None) -> Any:
        from quantdesk.risk import VarModel

        symbols, prices = [], []
        for s in book.series:  # one column per symbol: the first lake series that holds it
            if s.symbol not in symbols:
                symbols.append(s.symbol)
                prices.append(s.price)
        keep = [next(i for i, s in enumerate(book.series) if s.symbol == sym) for sym in symbols]
        if returns is None:
            _, window = book.window(self.var.window_days)
            returns = window[:, keep] if window.size else np.zeros((0, len(symbols)))
        column = {s: i for i, s in enumerate(symbols)}
        desk = np.zeros(len(symbols))
        owned: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(symbols)))
        for p in tracker.positions():
            j = column.get(p.symbol)
            if j is None:
                continue  # a position the day's model does not hold: tomorrow's build takes it in
            value = float(p.qty) * prices[j]
            desk[j] += value
            owned[p.deployment][j] += value
        deployments = {name: (owned.get(name, np.zeros(len(symbols))), d.equity)
                       for name, d in tracker.deployments.items()}
        return VarModel(day=today, symbols=tuple(symbols), returns=returns, prices=np.asarray(prices),
                        confidence=self.var.confidence, method=self.var.method, desk=desk,
                        desk_equity=desk_equity(self.ledger, book, self.settings), deployments=deployments)


def gate_var_source(ledger: Any, lake: Any = None, settings: Any = None, clock: Any = None) -> DeskVarSource:
    """Return the desk's VaR model source for a `RiskGate(var_model=...)`."""
    return DeskVarSource(ledger, lake, settings, clock)
