"""Notifications through apprise: never raising into the trading path, secrets never logged."""

from quantdesk.notify.notifier import Notification, NotificationLevel, Notifier, redact_url

__all__ = ["Notification", "NotificationLevel", "Notifier", "redact_url"]
