"""Notification channels at rest: apprise URLs (they carry bot tokens and passwords) encrypted like exchange keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from quantdesk.core.errors import IdentityError
from quantdesk.core.secrets import SecretBox, fingerprint
from quantdesk.identity.keys import _home
from quantdesk.identity.policy import Action, authorize
from quantdesk.identity.users import get_user
from quantdesk.ledger import Ledger
from quantdesk.ledger.channels import (
    channel_rows,
    put_channel,
    put_subscription,
    remove_channel,
    subscription_rows,
)

__all__ = [
    "ChannelInfo",
    "add_channel",
    "channel_router",
    "channel_urls",
    "delete_channel",
    "list_channels",
    "subscribe",
    "subscriptions",
]


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
    authorize(ledger, actor, Action.MANAGE_CHANNELS)
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
    authorize(ledger, actor, Action.MANAGE_CHANNELS)
    remove_channel(ledger, name, audit=(actor, "notify.channel_remove", {"channel": name}))


def channel_urls(ledger: Ledger, *, box: SecretBox | None = None) -> list[str]:
    """Return the decrypted URLs of every stored channel (for the sender only)."""
    rows = channel_rows(ledger)
    if not rows:
        return []
    box = box or SecretBox.from_home(_home())
    return [box.decrypt(r["url"]).reveal() for r in rows]


_RANK = {"info": 0, "success": 0, "warning": 1, "error": 2}


def subscribe(ledger: Ledger, user: str, channel: str, *, event_type: str = "*", min_level: str = "info",
              actor: str, via: str = "cli") -> None:
    """Subscribe `user` to `event_type` ("*": all) at `min_level` or above on stored `channel` (themselves or an admin)."""
    if min_level not in _RANK:
        raise IdentityError(f"unknown level {min_level!r}: use info, warning or error")
    # your own subscription needs only an active account; someone else's is channel administration
    authorize(ledger, actor, Action.VIEW if actor == user else Action.MANAGE_CHANNELS, via=via)
    get_user(ledger, user)
    put_subscription(ledger, user=user, channel=channel, event_type=event_type, min_level=min_level,
                     audit=(actor, "notify.subscribe", {"user": user, "channel": channel, "event_type": event_type,
                                                        "min_level": min_level}))


def subscriptions(ledger: Ledger) -> list[dict[str, object]]:
    """Return every subscription (user, channel, event_type, min_level)."""
    return [{k: r[k] for k in ("user", "channel", "event_type", "min_level")} for r in subscription_rows(ledger)]


def channel_router(ledger: Ledger, *, box: SecretBox | None = None) -> Callable[[str, str], list[str]]:
    """Return `route(event_type, level) -> [url]`: the stored channels that want this message.

    A channel nobody subscribed to receives every event; one with subscriptions receives an
    event when a subscription names it (or "*") at a level it reaches. URLs are decrypted once.
    """
    rows = channel_rows(ledger)
    box = box or (SecretBox.from_home(_home()) if rows else None)
    urls = {r["name"]: box.decrypt(r["url"]).reveal() for r in rows} if box else {}
    wanted: dict[str, list[dict[str, object]]] = {}
    for s in subscription_rows(ledger):
        wanted.setdefault(str(s["channel"]), []).append(s)

    def route(event_type: str, level: str) -> list[str]:
        out = []
        for name, url in urls.items():
            subs = wanted.get(name)
            if not subs or any(s["event_type"] in (event_type, "*") and _RANK.get(level, 0) >= _RANK[str(s["min_level"])]
                               for s in subs):
                out.append(url)
        return out

    return route
