"""Notifications through apprise: never raising into the trading path, secrets never logged.

Events reach people through the ledger's durable outbox (written with the event) and
`drain_outbox`, which renders each event's Jinja2 template and delivers it with retries,
back-off and digests. Importing this package does not import apprise or Jinja2's templates
until they are used.
"""

from quantdesk.notify.notifier import Notification, NotificationLevel, Notifier, redact_url

__all__ = ["DeliveryReport", "Notification", "NotificationLevel", "Notifier", "drain_outbox", "redact_url"]


def __getattr__(name: str) -> object:
    if name in ("DeliveryReport", "drain_outbox"):
        from quantdesk.notify import delivery

        return getattr(delivery, name)
    raise AttributeError(f"module 'quantdesk.notify' has no attribute {name!r}")
