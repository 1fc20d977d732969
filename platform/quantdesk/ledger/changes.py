"""A cheap marker that moves whenever something is committed to the ledger, from any process.

For watchers that redraw on change (the dashboards): SQLite counts the commits other
connections make (`PRAGMA data_version`, exact where file mtimes can miss two commits in one
timestamp tick), so the watch keeps one read-only connection of its own; PostgreSQL answers
one small query on the newest rows and changes of what the desk shows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from quantdesk.ledger.schema import audit_log, deployments, fills, orders, trading_states

if TYPE_CHECKING:
    from quantdesk.ledger.base import LedgerBase

__all__ = ["ChangeWatch"]


class ChangeWatch:
    """Watch one ledger: `marker()` differs from its last value once anything new was committed."""

    def __init__(self, ledger: LedgerBase) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None

    def marker(self) -> Hashable:
        """Return the current change marker (equal markers: nothing committed in between)."""
        engine = self._ledger.engine
        if engine.dialect.name == "sqlite" and engine.url.database:
            with self._lock:  # the connection only ever reads this counter
                if self._sqlite is None:
                    self._sqlite = sqlite3.connect(engine.url.database, check_same_thread=False)
                return int(self._sqlite.execute("PRAGMA data_version").fetchone()[0])
        with engine.connect() as connection:
            return tuple(connection.execute(_NEWEST).one())

    def close(self) -> None:
        """Close the watch's own SQLite connection (the ledger stays open)."""
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None


# a shared database: the newest row or change of what the pages show, in one round trip
_NEWEST = select(*(select(agg).scalar_subquery() for agg in (
    func.max(audit_log.c.seq), func.max(fills.c.id), func.max(orders.c.updated_at),
    func.max(trading_states.c.updated_at), func.max(deployments.c.updated_at), func.count(orders.c.id))))
