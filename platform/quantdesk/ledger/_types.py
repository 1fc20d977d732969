"""Column types that keep money exact and times in UTC on both SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from quantdesk.core.clock import ensure_utc
from quantdesk.core.money import to_decimal

__all__ = ["DecimalType", "UtcDateTime", "canonical_json", "jsonable"]


class DecimalType(TypeDecorator[Decimal]):
    """Exact Decimal: PostgreSQL NUMERIC (unbounded, keeps scale); SQLite TEXT.

    SQLite's NUMERIC affinity would round through a double, so amounts are stored there as
    their decimal string and sums are done in Python over Decimals.
    """

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_decimal(value)
        if not amount.is_finite():
            raise ValueError(f"cannot store {amount!r} as money: it is not a finite number")
        return amount if dialect.name == "postgresql" else str(amount)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A tz-aware UTC datetime in, a tz-aware UTC datetime out (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = ensure_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return ensure_utc(value).astimezone(UTC)


def jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, Decimals and datetimes into JSON values (Decimal as string)."""
    if value is None or type(value) in (str, int, bool):  # most values: answered before the slower checks
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return ensure_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def canonical_json(value: Any) -> str:
    """Serialize `value` deterministically (sorted keys, no spaces) so hashes are reproducible."""
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
