"""The replay's scratch ledger: the real `Ledger` (same tables, same SQL), batched into few commits.

A replay writes thousands of rows that nobody needs durable until the end, so every ledger
call runs inside one long transaction that commits every `commit_every` writes and at
`close()`. On tmpfs (/dev/shm) when there is one, without fsync: it is scratch.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event

from quantdesk.core.clock import Clock
from quantdesk.ledger import Ledger

__all__ = ["ScratchLedger", "scratch_url"]


def scratch_url() -> str:
    """Return a new SQLite URL in a fresh temporary directory (on tmpfs when available)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    folder = tempfile.mkdtemp(prefix="quantdesk-replay-", dir=base)
    return f"sqlite:///{Path(folder) / 'replay.db'}"


class ScratchLedger(Ledger):
    """A `Ledger` whose writes share one transaction, committed in batches (for replays only)."""

    def __init__(self, url: str, *, clock: Clock | None = None, commit_every: int = 5_000) -> None:
        super().__init__(url, clock=clock)
        engine = self.engine

        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=OFF")  # scratch data: no fsync
            cursor.close()

        engine.dispose()  # pooled connections were opened with synchronous=FULL
        self._conn: Connection = engine.connect()
        self._conn.execution_options(quantdesk_write=True)
        self._tx = self._conn.begin()
        self._statements = self._direct(self._conn)  # the ledger's prebuilt statements on the driver's cursor
        self._writes = 0
        self.commit_every = commit_every

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # no savepoint: SQLite undoes a failed statement on its own, and a replay stops on errors
        yield self._statements
        self._writes += 1
        if self._writes >= self.commit_every:
            self.commit()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        yield self._statements

    def commit(self) -> None:
        """Commit what was written so far and open the next batch."""
        self._tx.commit()
        self._tx = self._conn.begin()
        self._writes = 0

    def close(self) -> None:
        """Commit the last batch and release the connection."""
        if self._conn is not None and not self._conn.closed:
            self._tx.commit()
            self._conn.close()
        super().close()
