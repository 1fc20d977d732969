"""What every dashboard session of one server process shares: one ledger handle and desk-wide reads.

A page used to open its own `Ledger()` and read the whole desk for each session, and refreshed
nothing once drawn. Here the desk-wide reads (the same for every user) are computed once per
change of the ledger or the lake and handed to every session; a session only adds what is
its own user's (name, role, what the role may do) and checks the role again on every action.

A change is noticed cheaply: a SQLite ledger's `PRAGMA data_version` moves with every commit
made by another connection, from any process; a PostgreSQL ledger answers one small query.
The lake's change marker is its series folders' mtimes (a new file is renamed into one).
No UI library here: dashboards/_live.py watches the markers once per process and redraws open pages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from quantdesk.ledger import ChangeWatch, Ledger

__all__ = ["DeskFeed", "Snapshot", "desk_feed", "flow_window", "shared_ledger"]

# How often the change markers are looked at (once per process, whatever the number of sessions)
LEDGER_CHECK_S = 0.1
LAKE_CHECK_S = 1.0

_lock = threading.Lock()
_ledger: Ledger | None = None
_feed: DeskFeed | None = None


def shared_ledger() -> Ledger:
    """Return this process's ledger handle (one engine and pool, migrations checked once), opened on first use."""
    global _ledger
    with _lock:
        if _ledger is None:
            _ledger = Ledger()
        return _ledger


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A desk-wide value and the change marker it was read at (equal versions: nothing to redraw)."""

    version: Hashable
    value: Any


class DeskFeed:
    """Desk-wide reads computed once per change of their source and shared by every session."""

    def __init__(self, ledger: Ledger, lake: Any = None, *, ledger_check_s: float = LEDGER_CHECK_S,
                 lake_check_s: float = LAKE_CHECK_S) -> None:
        self._ledger = ledger
        self._lake = lake
        self._every = {"ledger": ledger_check_s, "lake": lake_check_s}
        self._marks: dict[str, tuple[float, Hashable]] = {}  # source -> (checked at, version)
        self._values: dict[Hashable, Snapshot] = {}
        self._lock = threading.Lock()
        self._watch = ChangeWatch(ledger)  # SQLite: PRAGMA data_version; PostgreSQL: one small query

    def close(self) -> None:
        """Close the connection that watches a SQLite ledger (the shared ledger itself stays open)."""
        self._watch.close()

    # -- change markers ------------------------------------------------------------------

    def ledger_version(self) -> Hashable:
        """Return the ledger's change marker, looked at no more than every `ledger_check_s`."""
        return self._mark("ledger", self._watch.marker)

    def lake_version(self) -> Hashable:
        """Return the lake's change marker, looked at no more than every `lake_check_s`."""
        return self._mark("lake", self._read_lake_version)

    def _mark(self, source: str, read: Callable[[], Hashable]) -> Hashable:
        now = time.monotonic()
        with self._lock:
            found = self._marks.get(source)
            if found is not None and now - found[0] < self._every[source]:
                return found[1]
        version = read()
        with self._lock:
            self._marks[source] = (now, version)
        return version

    def _read_lake_version(self) -> Hashable:
        window = int(time.monotonic() // 30)  # storage without a change marker (S3): read again every 30 s
        candles = tuple((key, window if version is None else version) for key, version in self.lake.change_marker())
        # the market page's sentiment panels read the numeric series: a new point there is a change too
        series = tuple((key, window if version is None else version) for key, version in self.lake.numeric.change_marker())
        return candles + series

    @property
    def lake(self) -> Any:
        """Return the lake this feed reads (the configured one, opened on first use)."""
        if self._lake is None:
            from quantdesk.lake import Lake

            self._lake = Lake()
        return self._lake

    # -- shared values --------------------------------------------------------------------

    def get(self, key: Hashable, version: Hashable, compute: Callable[[], Any]) -> Snapshot:
        """Return `compute()` for `key`, computed again only when `version` differs from the stored one."""
        with self._lock:
            found = self._values.get(key)
        if found is not None and found.version == version:
            return found
        snapshot = Snapshot(version=version, value=compute())
        with self._lock:
            self._values[key] = snapshot
        return snapshot

    def derive(self, key: Hashable, snapshot: Snapshot, make: Callable[[Any], Any]) -> Snapshot:
        """Return `make(snapshot.value)` (e.g. a page's HTML), made once per version of `snapshot` for all sessions."""
        return self.get(key, snapshot.version, lambda: make(snapshot.value))

    def marker(self) -> Hashable:
        """Return the marker of everything the shared reads come from: ledger, lake, the flow-runs window."""
        return self.ledger_version(), self.lake_version(), flow_window()

    def overview(self) -> Snapshot:
        """Return the overview's desk-wide part (no user in it), read again when the ledger or lake changed.

        The lake's part (a scan of every series) is read again only when the lake changed, not
        with every ledger commit. `equity` holds each deployment's equity line for the chart.
        """
        from quantdesk.desk.pictures import desk_equity
        from quantdesk.desk.views import desk_overview, lake_freshness

        marker = self.marker()
        freshness = self.get("freshness", marker[1], lambda: lake_freshness(self.lake))

        def compute() -> dict[str, Any]:
            lines = desk_equity(self._ledger, self.lake)
            return {**desk_overview(self._ledger, freshness=freshness.value, equity=lines), "equity": lines}

        return self.get("overview", marker, compute)

    def trading(self) -> Snapshot:
        """Return the trading page's desk-wide part (orders, fills, positions, risk events, state)."""
        from quantdesk.desk.views import desk_trading

        return self.get("trading", self.ledger_version(), lambda: desk_trading(self._ledger))

    def fills_chart(self, symbol: str) -> Snapshot:
        """Return `symbol`'s candles around its fills and the fills (`quantdesk.desk.pictures.fills_on_candles`)."""
        from quantdesk.desk.pictures import fills_on_candles

        return self.get(("fills-chart", symbol), (self.ledger_version(), self.lake_version()),
                        lambda: fills_on_candles(self._ledger, self.lake, symbol))

    def drift(self) -> Snapshot:
        """Return each paper or live deployment's equity beside its backtest's (`pictures.deployment_drift`)."""
        from quantdesk.desk.pictures import deployment_drift

        return self.get("drift", (self.ledger_version(), self.lake_version()),
                        lambda: deployment_drift(self._ledger, self.lake))

    def market(self, *, exchange: str, symbol: str, timeframe: str, days: float) -> Snapshot:
        """Return `quantdesk.desk.market` for these arguments, read again only when the lake changed."""
        from quantdesk.desk.pages import market

        return self.get(("market", exchange, symbol, timeframe, days), self.lake_version(),
                        lambda: market(self.lake, exchange=exchange, symbol=symbol, timeframe=timeframe, days=days))


def flow_window() -> int:
    """Return the 15 s window the Prefect flow runs are read in (they have no change marker of their own)."""
    from quantdesk.desk.views import FLOW_RUNS_TTL_S

    return int(time.monotonic() // FLOW_RUNS_TTL_S)


def desk_feed() -> DeskFeed:
    """Return this process's feed (over `shared_ledger()` and the configured lake)."""
    global _feed
    ledger = shared_ledger()
    with _lock:
        if _feed is None:
            _feed = DeskFeed(ledger)
        return _feed
