"""The ML layer's error: a StrategyError, so every CLI path that reports strategy mistakes reports these."""

from __future__ import annotations

from quantdesk.core.errors import StrategyError

__all__ = ["MLError"]


class MLError(StrategyError):
    """An ML strategy's configuration or training failed; the message names the fix."""
