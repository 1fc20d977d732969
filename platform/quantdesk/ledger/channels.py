"""Rows of `notification_channels`: named apprise URLs, stored as Fernet tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from quantdesk.core.errors import LedgerError
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.registry import AuditSpec, _as_dict, _audit
from quantdesk.ledger.schema import notification_channels, notification_subscriptions

__all__ = ["channel_rows", "put_channel", "put_subscription", "remove_channel", "subscription_rows"]


def put_channel(ledger: LedgerBase, *, name: str, url_token: str, scheme: str, url_fingerprint: str,
                created_by: str, audit: AuditSpec | None = None) -> None:
    """Store (or replace) channel `name` with its audit entry, in one transaction."""
    with ledger._write() as c:
        c.execute(delete(notification_channels).where(notification_channels.c.name == name))
        c.execute(notification_channels.insert().values(
            name=name, url=url_token, scheme=scheme, url_fingerprint=url_fingerprint, created_by=created_by,
            created_at=ledger._now()))
        _audit(ledger, c, audit)


def channel_rows(ledger: LedgerBase) -> list[dict[str, Any]]:
    """Return every channel row (tokens included: callers show scheme and fingerprint only)."""
    with ledger._read() as c:
        return [_as_dict(r) for r in c.execute(select(notification_channels).order_by(notification_channels.c.name))]


def remove_channel(ledger: LedgerBase, name: str, *, audit: AuditSpec | None = None) -> None:
    """Delete channel `name`; LedgerError naming the known ones when there is none."""
    with ledger._write() as c:
        if c.execute(delete(notification_channels).where(notification_channels.c.name == name)).rowcount != 1:
            known = [r.name for r in c.execute(select(notification_channels.c.name))]
            raise LedgerError(f"no notification channel {name!r} (known: {', '.join(known) or 'none'})")
        _audit(ledger, c, audit)


def put_subscription(ledger: LedgerBase, *, user: str, channel: str, event_type: str, min_level: str,
                     audit: AuditSpec | None = None) -> None:
    """Store (or change the level of) `user`'s subscription to `event_type` on `channel`."""
    t = notification_subscriptions
    where = (t.c.user == user) & (t.c.channel == channel) & (t.c.event_type == event_type)
    with ledger._write() as c:
        if c.execute(select(notification_channels.c.name).where(notification_channels.c.name == channel)).first() is None:
            known = [r.name for r in c.execute(select(notification_channels.c.name))]
            raise LedgerError(f"no notification channel {channel!r} (known: {', '.join(known) or 'none'}); "
                              "add it with `quantdesk notify channel add`")
        c.execute(delete(t).where(where))
        c.execute(t.insert().values(user=user, channel=channel, event_type=event_type, min_level=min_level,
                                    created_at=ledger._now()))
        _audit(ledger, c, audit)


def subscription_rows(ledger: LedgerBase) -> list[dict[str, Any]]:
    """Return every subscription, by user, channel and event type."""
    t = notification_subscriptions
    with ledger._read() as c:
        return [_as_dict(r) for r in c.execute(select(t).order_by(t.c.user, t.c.channel, t.c.event_type))]
