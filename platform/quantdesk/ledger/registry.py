"""Rows of the promotion registry: deployments, promotion requests and users (migration 0002).

Plain persistence over the ledger's transactions; the meaning (stages, gates, roles) lives
in `quantdesk.promotion`. Each write that a person or the runner caused appends its audit
entry in the same transaction, so the registry and the audit log never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from quantdesk.core.errors import LedgerError
from quantdesk.ledger.audit import append_entry
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.schema import deployments, promotions, users

__all__ = [
    "AuditSpec",
    "deployment_row",
    "deployment_rows",
    "insert_deployment",
    "insert_promotion",
    "promotion_rows",
    "update_deployment",
    "update_promotion",
    "update_user",
    "upsert_user",
    "user_row",
    "user_rows",
]

# (actor, action, payload) of the audit entry written with a change.
AuditSpec = tuple[str, str, Mapping[str, Any]]


def _audit(ledger: LedgerBase, c: Connection, audit: AuditSpec | None) -> None:
    if audit is not None:
        actor, action, payload = audit
        append_entry(c, ts=ledger._now(), actor=actor, action=action, payload=payload)


def _as_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# -- deployments ---------------------------------------------------------------------------------
def deployment_row(ledger: LedgerBase, name: str) -> dict[str, Any] | None:
    """Return the deployment row named `name`, or None."""
    with ledger._read() as c:
        row = c.execute(select(deployments).where(deployments.c.id == name)).first()
    return None if row is None else _as_dict(row)


def deployment_rows(ledger: LedgerBase) -> list[dict[str, Any]]:
    """Return every deployment row, by name."""
    with ledger._read() as c:
        rows = c.execute(select(deployments).order_by(deployments.c.id)).all()
    return [_as_dict(r) for r in rows]


def insert_deployment(
    ledger: LedgerBase, values: Mapping[str, Any], *, audit: AuditSpec | None = None
) -> dict[str, Any]:
    """Insert a deployment (`values["id"]` is its name); LedgerError if the name is taken."""
    try:
        with ledger._write() as c:
            if c.execute(select(deployments.c.id).where(deployments.c.id == values["id"])).first():
                raise LedgerError(f"a deployment named {values['id']!r} already exists: choose another name")
            c.execute(deployments.insert().values(**values))
            _audit(ledger, c, audit)
            return _as_dict(c.execute(select(deployments).where(deployments.c.id == values["id"])).one())
    except IntegrityError as e:  # another process inserted the same name first
        raise LedgerError(f"a deployment named {values['id']!r} already exists: choose another name") from e


def update_deployment(
    ledger: LedgerBase,
    name: str,
    values: Mapping[str, Any],
    *,
    audit: AuditSpec | None = None,
) -> dict[str, Any]:
    """Update the deployment `name` with `values`; LedgerError if there is none."""
    with ledger._write() as c:
        found = c.execute(
            select(deployments.c.id).where(deployments.c.id == name).with_for_update()
        ).first()
        if found is None:
            raise LedgerError(f"no deployment named {name!r} in the ledger")
        c.execute(deployments.update().where(deployments.c.id == name).values(**values))
        _audit(ledger, c, audit)
        return _as_dict(c.execute(select(deployments).where(deployments.c.id == name)).one())


# -- promotion requests --------------------------------------------------------------------------
def insert_promotion(
    ledger: LedgerBase,
    values: Mapping[str, Any],
    *,
    deployment: tuple[str, Mapping[str, Any], bool] | None = None,
    audit: AuditSpec | None = None,
) -> dict[str, Any]:
    """Insert a promotion request; optionally insert or update its deployment in the same transaction.

    `deployment` is (name, values, create): create inserts the row, else it is updated.
    """
    with ledger._write() as c:
        if deployment is not None:
            name, dep_values, create = deployment
            exists = c.execute(select(deployments.c.id).where(deployments.c.id == name)).first()
            if create and exists:
                raise LedgerError(f"a deployment named {name!r} already exists: choose another name")
            if not create and not exists:
                raise LedgerError(f"no deployment named {name!r} in the ledger")
            if create:
                c.execute(deployments.insert().values(id=name, **dep_values))
            else:
                c.execute(deployments.update().where(deployments.c.id == name).values(**dep_values))
        key = c.execute(promotions.insert().values(**values)).inserted_primary_key
        assert key is not None  # an INSERT always reports its key
        pid = key[0]
        _audit(ledger, c, audit)
        return _as_dict(c.execute(select(promotions).where(promotions.c.id == pid)).one())


def update_promotion(
    ledger: LedgerBase,
    promotion_id: int,
    values: Mapping[str, Any],
    *,
    expect_status: str | None = None,
    deployment: tuple[str, Mapping[str, Any]] | None = None,
    audit: AuditSpec | None = None,
) -> dict[str, Any]:
    """Update a promotion request (and its deployment) atomically.

    With `expect_status`, LedgerError unless the request still has that status (two approvers
    racing: only the first one wins).
    """
    with ledger._write() as c:
        row = c.execute(
            select(promotions).where(promotions.c.id == promotion_id).with_for_update()
        ).first()
        if row is None:
            raise LedgerError(f"no promotion request {promotion_id} in the ledger")
        if expect_status is not None and row.status != expect_status:
            raise LedgerError(
                f"promotion request {promotion_id} is {row.status}, not {expect_status}: it was decided already"
            )
        c.execute(promotions.update().where(promotions.c.id == promotion_id).values(**values))
        if deployment is not None:
            name, dep_values = deployment
            c.execute(deployments.update().where(deployments.c.id == name).values(**dep_values))
        _audit(ledger, c, audit)
        return _as_dict(c.execute(select(promotions).where(promotions.c.id == promotion_id)).one())


def promotion_rows(
    ledger: LedgerBase, *, deployment: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Return promotion requests, oldest first, filtered by deployment and status."""
    query = select(promotions)
    if deployment is not None:
        query = query.where(promotions.c.deployment == deployment)
    if status is not None:
        query = query.where(promotions.c.status == status)
    with ledger._read() as c:
        rows = c.execute(query.order_by(promotions.c.id)).all()
    return [_as_dict(r) for r in rows]


# -- users ---------------------------------------------------------------------------------------
def user_row(ledger: LedgerBase, name: str) -> dict[str, Any] | None:
    """Return the user `name`, or None."""
    with ledger._read() as c:
        row = c.execute(select(users).where(users.c.name == name)).first()
    return None if row is None else _as_dict(row)


def user_rows(ledger: LedgerBase) -> list[dict[str, Any]]:
    """Return every user, by name."""
    with ledger._read() as c:
        rows = c.execute(select(users).order_by(users.c.name)).all()
    return [_as_dict(r) for r in rows]


def upsert_user(
    ledger: LedgerBase, name: str, role: str, created_by: str, *, audit: AuditSpec | None = None
) -> dict[str, Any]:
    """Create the user `name` with `role`, or change the role of an existing one."""
    with ledger._write() as c:
        found = c.execute(select(users.c.name).where(users.c.name == name).with_for_update()).first()
        if found is None:
            c.execute(
                users.insert().values(name=name, role=role, created_by=created_by, created_at=ledger._now())
            )
        else:
            c.execute(users.update().where(users.c.name == name).values(role=role))
        _audit(ledger, c, audit)
        return _as_dict(c.execute(select(users).where(users.c.name == name)).one())


def update_user(
    ledger: LedgerBase, name: str, values: Mapping[str, Any], *, audit: AuditSpec | None = None
) -> dict[str, Any]:
    """Change columns of the user `name` (password hash, disabled) with its audit entry; LedgerError if unknown."""
    with ledger._write() as c:
        result = c.execute(
            users.update().where(users.c.name == name).values(**values, updated_at=ledger._now())
        )
        if result.rowcount != 1:
            raise LedgerError(f"user {name!r} is not registered; add them with `quantdesk user add {name}`")
        _audit(ledger, c, audit)
        return _as_dict(c.execute(select(users).where(users.c.name == name)).one())
