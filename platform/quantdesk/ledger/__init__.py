"""The ledger (DESIGN.md contract 7): orders, fills, positions, risk events, trading states, audit.

SQLAlchemy 2 Core over SQLite (WAL, embedded default) or PostgreSQL, migrated by Alembic.
"""

from quantdesk.ledger.changes import ChangeWatch
from quantdesk.ledger.ledger import IntentRow, Ledger
from quantdesk.ledger.migrate import current_revision, head_revision, upgrade
from quantdesk.ledger.records import (
    AuditEntry,
    AuditVerification,
    BalanceRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    PositionSnapshotRecord,
    RiskEventRecord,
    TradingStateRecord,
)

__all__ = [
    "AuditEntry",
    "AuditVerification",
    "BalanceRecord",
    "ChangeWatch",
    "FillRecord",
    "IntentRow",
    "Ledger",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "PositionSnapshotRecord",
    "RiskEventRecord",
    "TradingStateRecord",
    "current_revision",
    "head_revision",
    "upgrade",
]
