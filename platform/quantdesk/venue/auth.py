"""Signed-request checks like Binance's: API key header, HMAC-SHA256 signature, recvWindow.

The simulated venue has two clocks (see `quantdesk.venue.venue`): its server time is its
market clock, while ccxt signs with the machine's wall clock. A timestamp is fresh when it
is fresh on either: the wall clock (what a default client signs with) or the market clock
(what a client that loaded the venue's time difference, ccxt `load_time_difference`, signs
with, while the market runs at the wall clock's pace).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from quantdesk.venue.orders import RejectedRequest

__all__ = ["TEST_API_KEY", "TEST_API_SECRET", "check_signed", "is_fresh", "sign"]

# Well-known test credentials of the simulated venue; they guard nothing of value.
TEST_API_KEY = "quantdesk-sim-key"
TEST_API_SECRET = "quantdesk-sim-secret"  # noqa: S105 - a published test secret

MAX_RECV_WINDOW_MS = 60_000
MAX_AHEAD_MS = 1_000


def sign(payload: str, secret: str) -> str:
    """Return the hex HMAC-SHA256 of `payload` keyed by `secret` (what Binance expects)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def is_fresh(timestamp: int, recv_window: int, *server_times_ms: int) -> bool:
    """Return True when `timestamp` is within `recv_window` before, and at most 1 s after, one of the server times."""
    return any(now - recv_window <= timestamp <= now + MAX_AHEAD_MS for now in server_times_ms)


def _unsigned_part(total_params: str) -> tuple[str, str | None]:
    """Split `a=1&b=2&signature=xx` into the signed text and the signature."""
    parts = total_params.split("&")
    signature = next((p.partition("=")[2] for p in parts if p.startswith("signature=")), None)
    return "&".join(p for p in parts if not p.startswith("signature=")), signature


def check_signed(
    *,
    headers: Mapping[str, str],
    query: str,
    body: str,
    params: Mapping[str, str],
    api_key: str,
    api_secret: str,
    server_time_ms: int,
    market_time_ms: int | None = None,
) -> None:
    """Raise `RejectedRequest` unless the request is signed by `api_key`/`api_secret` in time.

    The signed text is the query string followed by the body (Binance's totalParams). In
    time: fresh on the wall clock `server_time_ms`, or on the market clock `market_time_ms`.
    """
    key = headers.get("X-MBX-APIKEY") or headers.get("x-mbx-apikey")
    if not key:
        raise RejectedRequest(-2014, "API-key format invalid.", status=401)
    if not hmac.compare_digest(key, api_key):
        raise RejectedRequest(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    signed_text, signature = _unsigned_part(query + body if query and body else query or body)
    if not signature:
        raise RejectedRequest(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    if not hmac.compare_digest(signature.lower(), sign(signed_text, api_secret)):
        raise RejectedRequest(-1022, "Signature for this request is not valid.")
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        raise RejectedRequest(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        ) from None
    try:
        recv_window = int(params.get("recvWindow", 5000))
    except ValueError:
        raise RejectedRequest(
            -1100, "Illegal characters found in parameter 'recvWindow'."
        ) from None
    if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
        raise RejectedRequest(-1131, "recvWindow must be less than 60000")
    if market_time_ms is not None and is_fresh(timestamp, recv_window, market_time_ms):
        return
    if timestamp > server_time_ms + MAX_AHEAD_MS:
        raise RejectedRequest(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if server_time_ms - timestamp > recv_window:
        raise RejectedRequest(-1021, "Timestamp for this request is outside of the recvWindow.")
