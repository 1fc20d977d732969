"""The ccxt boundary: map ccxt exceptions to typed quantdesk errors, with secrets redacted.

ccxt messages can carry the request URL (with a signature in the query string) and the
response body; an API key or secret must never reach a log, an error or the ledger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from quantdesk.core.errors import (
    BrokerError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    VenueError,
)

__all__ = ["SecretRedactingFilter", "map_ccxt_error", "redact", "retry_after_s"]

_SIGNATURE_RE = re.compile(r"(signature|apiKey|api_key|secret|X-MBX-APIKEY)(['\"]?\s*[=:]\s*['\"]?)[^&\s'\",}]+", re.I)
_MASK = "***"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return `text` with every secret and any `signature=`/`apiKey=` value replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _MASK)
    return _SIGNATURE_RE.sub(lambda m: m.group(1) + m.group(2) + _MASK, text)


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Read `Retry-After` (seconds) from response headers, case-insensitively."""
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def map_ccxt_error(
    error: Exception,
    *,
    action: str,
    secrets: Iterable[str | None] = (),
    headers: Mapping[str, str] | None = None,
) -> BrokerError:
    """Return the quantdesk error for a ccxt exception (the caller does `raise ... from None`).

    Network errors and timeouts are NOT mapped here: the caller must resolve them by a lookup.
    """
    import ccxt  # the broker layer only; kept local so importing quantdesk.broker stays cheap

    detail = redact(str(error), secrets)
    message = f"{action} failed: {detail}"
    if isinstance(error, ccxt.InsufficientFunds):
        return InsufficientFundsError(f"{message}; reduce the quantity or fund the account")
    if isinstance(error, ccxt.OrderNotFound):
        return OrderNotFoundError(f"{message}; check the client order id and symbol")
    if isinstance(error, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.OperationRejected):
        return OrderRejectedError(f"{message}; check price tick, lot step and min notional")
    if isinstance(error, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        wait = retry_after_s(headers)
        hint = f"wait {wait:g}s" if wait is not None else "wait before retrying"
        return RateLimitedError(f"{message}; the venue rate-limits us, {hint}", retry_after_s=wait)
    if isinstance(error, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return VenueError(f"{message}; check the API key env vars and their permissions")
    return VenueError(f"{message}; see the venue status and retry later")


class SecretRedactingFilter(logging.Filter):
    """A logging filter that removes the given secrets from every record it sees."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Redact these too (one filter serves every broker in the process)."""
        for secret in secrets:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: drop its args rather than leak them
            text = str(record.msg)
        record.msg = redact(text, self._secrets)
        record.args = None
        return True
