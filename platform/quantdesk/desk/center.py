"""The notification center and the downloads of the dashboards (no UI library here)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from quantdesk.core.errors import PermissionDeniedError
from quantdesk.identity import get_user
from quantdesk.identity.policy import Action, authorize
from quantdesk.ledger import Ledger

__all__ = ["DOWNLOADS", "add_subscription", "download", "latest_desk_report", "notifications", "send_test"]

# what the pages offer to download: label -> (export kind, format)
DOWNLOADS = {"orders.xlsx": ("orders", "xlsx"), "fills.csv": ("fills", "csv"), "risk-events.xlsx": ("risk-events", "xlsx"),
             "positions.csv": ("positions", "csv"), "runs.xlsx": ("runs", "xlsx")}


def notifications(ledger: Ledger, user: str, *, limit: int = 200) -> dict[str, Any]:
    """Return message history with delivery status, channels (redacted), subscriptions and templates."""
    from quantdesk.core.settings import get_settings
    from quantdesk.identity.channels import list_channels, subscriptions
    from quantdesk.ledger.outbox import LedgerOutbox
    from quantdesk.notify.templates import DEFAULT_TEMPLATES

    me = get_user(ledger, user)
    overrides = (get_settings().notify or {}).get("templates") or {}
    templates = [{"event": event, "title": overrides.get(event, {}).get("title", title),
                  "body": overrides.get(event, {}).get("body", body), "overridden": event in overrides}
                 for event, (title, body) in sorted(DEFAULT_TEMPLATES.items())]
    return {
        "history": [{"id": m.id, "created_at": m.created_at.isoformat(timespec="seconds"), "event": m.event_type,
                     "level": m.level, "status": m.status, "attempts": m.attempts,
                     "sent_at": m.sent_at.isoformat(timespec="seconds") if m.sent_at else None,
                     "last_error": (m.last_error or "")[:120]} for m in LedgerOutbox(ledger).history(limit)],
        "channels": [{"name": c.name, "url": c.redacted, "fingerprint": c.url_fingerprint, "added_by": c.created_by}
                     for c in list_channels(ledger)],
        "subscriptions": [{k: v for k, v in s.items() if k != "created_at"} for s in subscriptions(ledger)],
        "templates": templates,
        "can_test": me.may(Action.SEND_TEST_NOTIFICATION),
        "can_subscribe_others": me.may(Action.MANAGE_CHANNELS),
        "user": me.name,
    }


def send_test(ledger: Ledger, user: str) -> str:
    """Send the test message to every channel (traders and admins); return a line for the page."""
    from quantdesk.live.notifications import desk_notifier
    from quantdesk.notify import Notification, NotificationLevel
    from quantdesk.notify.templates import render

    try:
        authorize(ledger, user, Action.SEND_TEST_NOTIFICATION, via="dashboard")  # audits a refusal
    except PermissionDeniedError as e:
        return f"refused: {e}"
    notifier = desk_notifier(ledger)
    if not notifier.enabled:
        return "no channel configured: `quantdesk notify channel add NAME` or [notify] urls in quantdesk.toml"
    title, body = render("test", {})
    ok = notifier.send(Notification(level=NotificationLevel.INFO, title=title, body=body))
    ledger.audit(user, "notify.test", {"channels": list(notifier.channels), "delivered": ok})
    return f"test message {'delivered to' if ok else 'NOT delivered to every one of'} {', '.join(notifier.channels)}"


def add_subscription(ledger: Ledger, user: str, *, subscriber: str, channel: str, event_type: str = "*",
                     min_level: str = "info") -> str:
    """Subscribe `subscriber` to `event_type` on stored `channel` as the logged-in `user` (themselves or an admin)."""
    from quantdesk.core.errors import QuantdeskError
    from quantdesk.identity.channels import subscribe

    try:
        subscribe(ledger, subscriber, channel, event_type=event_type or "*", min_level=min_level, actor=user,
                  via="dashboard")
    except PermissionDeniedError as e:  # audited by the policy
        return f"refused: {e}"
    except QuantdeskError as e:
        ledger.audit(user, "dashboard.refused", {"action": "subscribe", "subscriber": subscriber, "reason": str(e)})
        return f"refused: {e}"
    return f"{subscriber} now gets {event_type or '*'} at {min_level} or above on {channel} (set by {user})"


def download(ledger: Ledger, user: str, label: str) -> Path:
    """Write the export `label` (a key of DOWNLOADS) to a temporary file for a user who may export; return it.

    PermissionDeniedError (audited) for anyone else, checked at the click, not when the page was drawn.
    """
    from quantdesk.reports import export_frame, write_export

    authorize(ledger, user, Action.EXPORT, via="dashboard")
    kind, fmt = DOWNLOADS[label]
    frame = export_frame(kind, ledger=ledger)
    ledger.audit(user, "dashboard.download", {"export": label, "rows": frame.height})
    return write_export(frame, Path(tempfile.mkdtemp(prefix="quantdesk-dl-")) / label, fmt)


def latest_desk_report() -> Path | None:
    """Return the newest desk report (PDF, else HTML), or None."""
    from quantdesk.core.settings import get_settings

    root = get_settings().reports_dir / "desk"
    found = sorted(root.glob("*.pdf")) or sorted(root.glob("*.html"))
    return max(found, key=lambda p: p.stat().st_mtime) if found else None
