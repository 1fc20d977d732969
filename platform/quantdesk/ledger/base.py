"""Opening the ledger: engine, migration check, clock and transaction helpers shared by its parts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from quantdesk.core.clock import Clock, SystemClock, ensure_utc
from quantdesk.core.errors import LedgerError
from quantdesk.ledger.direct import DirectConnection
from quantdesk.ledger.engine import make_engine, read_tx, resolve_url, safe_url, write_tx
from quantdesk.ledger.migrate import check_revision, head_revision, upgrade_engine
from quantdesk.ledger.schema import accounts, venues

__all__ = ["LedgerBase"]


class LedgerBase:
    """Hold the engine and clock; open read and write transactions that raise LedgerError."""

    def __init__(
        self, url: str | None = None, *, clock: Clock | None = None, migrate: bool | None = None
    ) -> None:
        self._url = resolve_url(url)
        self._engine = make_engine(self._url)
        self._clock: Clock = clock or SystemClock()
        self._units = threading.local()  # this thread's open unit of work: its connection
        # The embedded SQLite file belongs to this installation: migrate it on open. A shared
        # PostgreSQL database is migrated on purpose, by an operator (`quantdesk db upgrade`).
        if migrate is None:
            migrate = self._engine.dialect.name == "sqlite"
        try:
            try:
                check_revision(self._engine)
            except LedgerError:
                if not migrate:
                    raise
                upgrade_engine(self._engine)
        except LedgerError:
            self._engine.dispose()
            raise
        except DBAPIError as e:
            self._engine.dispose()
            raise LedgerError(
                f"cannot open the ledger at {self.url} ({_first_line(e)}): check QUANTDESK_DB_URL and that the server is up"
            ) from e

    @property
    def url(self) -> str:
        """Return the database URL with any password hidden."""
        return safe_url(self._url)

    def reopen(self) -> LedgerBase:
        """Return another handle (its own connection pool) on the same database, e.g. for a sender thread."""
        return type(self)(self._url, clock=self._clock, migrate=False)

    @property
    def dialect(self) -> str:
        """Return `sqlite` or `postgresql`."""
        return self._engine.dialect.name

    @property
    def engine(self) -> Engine:
        """Return the SQLAlchemy engine (for read-only queries by dashboards; write through the API)."""
        return self._engine

    @property
    def revision(self) -> str:
        """Return the schema revision this ledger runs at."""
        return head_revision()

    def close(self) -> None:
        """Release all connections."""
        self._engine.dispose()

    def __enter__(self) -> LedgerBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self, ts: datetime | None = None) -> datetime:
        return ensure_utc(ts) if ts is not None else self._clock.now()

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Run this thread's ledger calls inside one transaction: one BEGIN and one commit for all.

        The gated broker records a venue's answer, its fills and the audit entry this way: all
        of them or none, for the price of one commit. Reads inside see the unit's writes. On
        PostgreSQL each call inside still runs in a savepoint, so a call that handles its own
        conflict (a unique row another process inserted first) leaves the unit usable; SQLite
        holds the write lock from the unit's start, so no such conflict can happen there.
        Units nest: an inner one joins the outer.
        """
        if getattr(self._units, "open", None) is not None:
            yield
            return
        with self._write() as connection:
            self._units.open = connection
            try:
                yield
            finally:
                self._units.open = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        connection = getattr(self._units, "open", None)
        if connection is not None:
            if connection.dialect.name == "postgresql":
                with connection.begin_nested():
                    yield connection
            else:
                yield connection
            return
        try:
            with write_tx(self._engine) as connection:
                yield self._direct(connection)
        except IntegrityError:
            raise  # callers that expect a race handle it; see _retry_on_conflict users
        except DBAPIError as e:
            raise LedgerError(
                f"ledger write failed at {self.url} ({_first_line(e)}); retry, or check the database"
            ) from e

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        unit = getattr(self._units, "open", None)
        if unit is not None:
            yield unit
            return
        try:
            with read_tx(self._engine) as connection:
                yield self._direct(connection)
        except DBAPIError as e:
            raise LedgerError(
                f"ledger read failed at {self.url} ({_first_line(e)}); retry, or check the database"
            ) from e

    @staticmethod
    def _direct(connection: Connection) -> Connection:
        # SQLite: the ledger's prebuilt statements skip SQLAlchemy's per-call machinery (ledger.direct)
        if connection.dialect.name != "sqlite":
            return connection
        return DirectConnection(connection)  # type: ignore[return-value]

    def _ensure_account(self, connection: Connection, venue: str, account: str, now: datetime) -> None:
        if not venue or not account:
            raise LedgerError(
                f"venue and account must be non-empty (got venue={venue!r}, account={account!r})"
            )
        # accounts are never deleted: once seen committed, the two lookups can be skipped
        known = self.__dict__.setdefault("_known_accounts", set())
        if (venue, account) in known:
            return
        if connection.execute(select(venues.c.name).where(venues.c.name == venue)).first() is None:
            connection.execute(venues.insert().values(name=venue, created_at=now))
        found = connection.execute(
            select(accounts.c.id).where(accounts.c.venue == venue, accounts.c.name == account)
        ).first()
        if found is None:
            connection.execute(accounts.insert().values(venue=venue, name=account, created_at=now))
        else:  # only a row read back is known to be committed (an insert here may still roll back)
            known.add((venue, account))

    def ensure_account(self, venue: str, account: str = "default") -> None:
        """Create the venue and account rows if missing (orders and fills do this for you)."""
        for attempt in range(2):
            try:
                with self._write() as connection:
                    self._ensure_account(connection, venue, account, self._now())
                return
            except IntegrityError:  # another process created it between our read and insert
                if attempt:
                    raise LedgerError(
                        f"cannot create account {venue}/{account}: conflicting writes"
                    ) from None


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
