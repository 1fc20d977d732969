"""Run the ledger's prebuilt statements straight on the SQLite driver, SQLAlchemy's SQL unchanged.

An order costs the ledger about 14 indexed statements. Through SQLAlchemy's `Connection.execute`
each pays ~35 µs of execution-context set-up, event dispatch and result wrapping around a
~7 µs SQLite call; the statements themselves are built once at import (module constants of the
ledger package). `DirectConnection` compiles each such constant once with SQLAlchemy (same SQL
text, same bind and result processors, so the same bytes stored and the same values read) and
then executes it with the driver's own cursor inside the connection's open transaction. Anything
else, a statement built per call, DDL, text, goes through the wrapped SQLAlchemy connection.

Only SQLite: the ledger's PostgreSQL path keeps SQLAlchemy whole (RETURNING, savepoints).
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert

__all__ = ["DirectConnection"]

_PREBUILT: set[int] = set()  # ids of module constants: they live, and keep their id, as long as the process
# compiled once per process: every ledger engine is SQLite's dialect configured alike (engine.py)
_PLANS: dict[tuple[int, tuple[str, ...]], _Plan | None] = {}


def _register_prebuilt() -> None:
    """Collect the ledger package's module-level statements: built once, they live (and keep their id) forever."""
    import quantdesk.ledger as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name in {"direct", "migrate"} or info.name.startswith("migrations"):
            continue
        module = importlib.import_module(f"quantdesk.ledger.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Executable):
                _PREBUILT.add(id(value))


class _Plan(NamedTuple):
    sql: str
    names: tuple[str, ...]  # positional parameter order
    static: dict[str, Any]  # values bound in the statement itself (LIMIT, literals)
    processors: tuple[Callable[[Any], Any] | None, ...]
    row: type | None  # the row type of a SELECT
    results: tuple[Callable[[Any], Any] | None, ...]
    pk: str | None  # an INSERT's single primary-key column


class _Result:
    """The part of SQLAlchemy's `CursorResult` the ledger uses on its prebuilt statements."""

    __slots__ = ("_rows", "inserted_primary_key", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int, inserted_primary_key: tuple[Any, ...] | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.inserted_primary_key = inserted_primary_key

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return self._rows


class DirectConnection:
    """Wrap a SQLite `Connection`: prebuilt statements run on its driver cursor, the rest through it."""

    def __init__(self, connection: Connection) -> None:
        if connection.dialect.name != "sqlite":
            raise ValueError(f"DirectConnection is for SQLite, not {connection.dialect.name}")
        if not _PREBUILT:
            _register_prebuilt()
        self._sa = connection
        self.dialect = connection.dialect
        self._cursor: Any = None  # one driver cursor per connection: results are fetched before the next call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sa, name)

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Execute like `Connection.execute`; prebuilt statements skip SQLAlchemy's per-call machinery."""
        if id(statement) not in _PREBUILT:
            return self._sa.execute(statement, parameters)
        many = isinstance(parameters, Sequence) and not isinstance(parameters, Mapping)
        first = (parameters[0] if parameters else {}) if many else (parameters or {})
        keys = tuple(first)
        plan = _PLANS.get((id(statement), keys), False)
        if plan is False:
            plan = _PLANS[(id(statement), keys)] = _plan(statement, keys, self.dialect)
        if plan is None or (many and any(tuple(p) != keys for p in parameters)):
            return self._sa.execute(statement, parameters)
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._sa.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(plan.sql, [_bind(plan, p) for p in parameters])
                return _Result([], cursor.rowcount, None)
            cursor.execute(plan.sql, _bind(plan, first))
            if plan.row is not None:
                results = plan.results
                rows = [plan.row(*[v if f is None else f(v) for f, v in zip(results, raw, strict=True)])
                        for raw in cursor.fetchall()]
                return _Result(rows, -1, None)
            pk = None
            if plan.pk is not None:
                pk = (first.get(plan.pk, cursor.lastrowid),)
            return _Result([], cursor.rowcount, pk)
        except sqlite3.Error as e:  # the error type callers catch (IntegrityError on a duplicate)
            raise DBAPIError.instance(plan.sql, parameters, e, sqlite3.Error) from e


def _bind(plan: _Plan, params: Mapping[str, Any]) -> list[Any]:
    static = plan.static
    out = []
    for name, process in zip(plan.names, plan.processors, strict=True):
        value = params[name] if name in params else static[name]
        out.append(value if process is None else process(value))
    return out


def _plan(statement: Any, keys: tuple[str, ...], dialect: Any) -> _Plan | None:
    """Compile `statement` for these parameter keys, or None when it needs SQLAlchemy's execution context."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if (not compiled.positional or compiled.insert_prefetch or compiled.update_prefetch
            or "POSTCOMPILE" in compiled.string or "RETURNING" in compiled.string):
        return None  # python-side defaults, expanding IN, RETURNING: leave them to SQLAlchemy
    names = tuple(compiled.positiontup or ())
    static = {k: v for k, v in compiled.construct_params(_check=False).items() if k not in keys}
    if any(n not in keys and n not in static for n in names):
        return None
    bind = compiled._bind_processors  # noqa: SLF001 - SQLAlchemy's own processors for these binds
    processors = tuple(bind.get(n) for n in names)
    row = None
    results: tuple[Callable[[Any], Any] | None, ...] = ()
    if compiled._result_columns:  # noqa: SLF001 - a SELECT (or RETURNING, refused above)
        columns = compiled._result_columns  # noqa: SLF001
        row = _row_type(tuple(c.keyname for c in columns))
        results = tuple(c.type._cached_result_processor(dialect, None) for c in columns)  # noqa: SLF001
    pk = None
    if isinstance(statement, Insert):
        primary = list(statement.table.primary_key.columns)
        pk = primary[0].key if len(primary) == 1 else None
    return _Plan(compiled.string, names, static, processors, row, results, pk)


def _row_type(fields: tuple[str, ...]) -> type:
    base = namedtuple("Row", fields, rename=True)  # type: ignore[misc]  # noqa: PYI024

    class Row(base):  # type: ignore[misc, valid-type]
        """A row: attributes by column key, a tuple, and `_mapping` as SQLAlchemy's rows have."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return self._asdict()

    return Row
