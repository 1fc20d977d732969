"""Notification channels at rest: apprise URLs (they carry bot tokens and passwords) encrypted like exchange keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quantdesk.core.errors import IdentityError
from quantdesk.core.secrets import SecretBox, fingerprint
from quantdesk.identity.keys import _home
from quantdesk.identity.users import Permission, require
from quantdesk.ledger import Ledger
from quantdesk.ledger.channels import channel_rows, put_channel, remove_channel

__all__ = ["ChannelInfo", "add_channel", "channel_urls", "delete_channel", "list_channels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelInfo:
    """What may be shown about a channel: its name, `scheme://***` and a fingerprint."""

    name: str
    redacted: str
    url_fingerprint: str
    created_by: str
    created_at: datetime


def add_channel(ledger: Ledger, name: str, url: str, *, actor: str, box: SecretBox | None = None) -> ChannelInfo:
    """Store channel `name` (an admin); the URL is encrypted, only its scheme is ever shown."""
    require(ledger, actor, Permission.MANAGE_USERS)
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise IdentityError(f"channel {name!r}: give an apprise URL like tgram://TOKEN/CHAT_ID, not {scheme or '(empty)'}…")
    box = box or SecretBox.from_home(_home())
    put_channel(ledger, name=name, url_token=box.encrypt(url), scheme=scheme, url_fingerprint=fingerprint(url),
                created_by=actor, audit=(actor, "notify.channel_add", {"channel": name, "scheme": scheme}))
    return next(c for c in list_channels(ledger) if c.name == name)


def list_channels(ledger: Ledger) -> list[ChannelInfo]:
    """Return every stored channel, redacted."""
    return [ChannelInfo(name=r["name"], redacted=f"{r['scheme']}://***", url_fingerprint=r["url_fingerprint"],
                        created_by=r["created_by"], created_at=r["created_at"]) for r in channel_rows(ledger)]


def delete_channel(ledger: Ledger, name: str, *, actor: str) -> None:
    """Remove channel `name` (an admin)."""
    require(ledger, actor, Permission.MANAGE_USERS)
    remove_channel(ledger, name, audit=(actor, "notify.channel_remove", {"channel": name}))


def channel_urls(ledger: Ledger, *, box: SecretBox | None = None) -> list[str]:
    """Return the decrypted URLs of every stored channel (for the sender only)."""
    rows = channel_rows(ledger)
    if not rows:
        return []
    box = box or SecretBox.from_home(_home())
    return [box.decrypt(r["url"]).reveal() for r in rows]
