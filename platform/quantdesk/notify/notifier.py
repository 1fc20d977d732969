"""Multi-channel notifications through apprise (Telegram, email, Slack, webhooks …).

A notification must never break the trading path: `Notifier.notify` logs and returns
False instead of raising. Channel URLs carry secrets (bot tokens, passwords), so they are
never logged: only their scheme appears, as `tgram://***`.
"""

from __future__ import annotations

import logging
import queue
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Notification", "NotificationLevel", "Notifier", "redact_url"]

from quantdesk.metrics import record_notification

log = logging.getLogger(__name__)


class NotificationLevel(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


_ORDER = {NotificationLevel.INFO: 0, NotificationLevel.SUCCESS: 0, NotificationLevel.WARNING: 1, NotificationLevel.ERROR: 2}
_APPRISE_TYPE = {
    NotificationLevel.INFO: "info",
    NotificationLevel.SUCCESS: "success",
    NotificationLevel.WARNING: "warning",
    NotificationLevel.ERROR: "failure",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message for humans: a risk denial, a state change, a fill, a failed flow."""

    level: NotificationLevel
    title: str
    body: str


def redact_url(url: str) -> str:
    """Return only the scheme of a channel URL (`tgram://***`): the rest may hold a secret."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://***" if sep else "***"


def _new_apprise() -> Any:
    # apprise's plugin loader imports the deprecated stdlib `imghdr`; keep that out of our
    # warnings (tests run with filterwarnings=error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        return apprise.Apprise()


class Notifier:
    """Send notifications to every configured apprise URL; never raise.

    `min_level` drops less important events. With `background=True` sending happens on a
    daemon thread so a slow channel cannot delay an order; `flush()` waits for it.
    """

    def __init__(
        self,
        urls: Iterable[str] = (),
        *,
        min_level: NotificationLevel | str = NotificationLevel.INFO,
        background: bool = False,
    ) -> None:
        self.min_level = NotificationLevel(min_level)
        self._apprise: Any = None
        self.last_error: str | None = None
        self.channels: list[str] = []
        self.rejected: list[str] = []
        urls = [u for u in urls if u]
        if urls:
            self._apprise = _new_apprise()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                for url in urls:
                    target = self.channels if self._apprise.add(url) else self.rejected
                    target.append(redact_url(url))
            for bad in self.rejected:
                log.warning("notification URL %s was not understood by apprise; it is skipped", bad)
        self._queue: queue.Queue[Notification | None] | None = None
        self._worker: threading.Thread | None = None
        if background and self.channels:
            self._queue = queue.Queue()
            self._worker = threading.Thread(target=self._drain, name="quantdesk-notify", daemon=True)
            self._worker.start()

    @classmethod
    def from_settings(cls, settings: Any | None = None, *, background: bool = False) -> Notifier:
        """Build from `[notify]` in quantdesk.toml: `urls = [...]`, optional `min_level`."""
        if settings is None:
            from quantdesk.core.settings import get_settings

            settings = get_settings()
        section = settings.notify or {}
        return cls(section.get("urls", []), min_level=section.get("min_level", "info"), background=background)

    @property
    def enabled(self) -> bool:
        """Return True when at least one channel is configured."""
        return bool(self.channels)

    def notify(self, event: Notification) -> bool:
        """Send `event` to every channel; return True when all took it (queued, in background mode)."""
        try:
            if not self.channels or _ORDER[NotificationLevel(event.level)] < _ORDER[self.min_level]:
                return False
            if self._queue is not None:
                self._queue.put(event)
                return True
            return self._send(event)
        except Exception as e:  # a notification must never break the trading path
            log.warning("notification %r failed: %s", event.title, type(e).__name__)
            return False

    def send(self, event: Notification) -> bool:
        """Send `event` now to every channel, whatever its level; False (see `last_error`) if one refused it.

        The outbox sender uses this: it records the outcome and retries, so nothing is queued here.
        """
        if not self.channels:
            self.last_error = "no channel configured"
            return False
        ok = self._send(event)
        self.last_error = None if ok else f"not delivered to every channel ({', '.join(self.channels)})"
        return ok

    def wants(self, level: NotificationLevel | str) -> bool:
        """Return True when `level` is at or above this notifier's minimum level."""
        return _ORDER[NotificationLevel(level)] >= _ORDER[self.min_level]

    def _send(self, event: Notification) -> bool:
        try:
            ok = self._apprise.notify(
                body=event.body or event.title,
                title=event.title,
                notify_type=_APPRISE_TYPE[NotificationLevel(event.level)],
            )
        except Exception as e:
            log.warning("notification %r failed: %s", event.title, type(e).__name__)
            return False
        if not ok:
            log.warning("notification %r was not delivered to every channel (%s)", event.title, ", ".join(self.channels))
        for channel in self.channels:  # apprise answers for all channels at once; the scheme only (URLs hold secrets)
            record_notification(url_scheme=channel.split(":", 1)[0], sent=bool(ok))
        return bool(ok)

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._send(event)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued notification was sent (background mode)."""
        if self._queue is not None:
            self._queue.join()

    def close(self) -> None:
        """Send what is queued and stop the background thread."""
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
            self._queue = None
