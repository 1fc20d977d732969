"""Signed-request checks like Binance's: API key header, HMAC-SHA256 signature, recvWindow."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from quantdesk.venue.orders import RejectedRequest

__all__ = ["TEST_API_KEY", "TEST_API_SECRET", "check_signed", "sign"]

# Well-known test credentials of the simulated venue; they guard nothing of value.
TEST_API_KEY = "quantdesk-sim-key"
TEST_API_SECRET = "quantdesk-sim-secret"  # noqa: S105 - a published test secret

MAX_RECV_WINDOW_MS = 60_000
MAX_AHEAD_MS = 1_000


def sign(payload: str, secret: str) -> str:
    """Return the hex HMAC-SHA256 of `payload` keyed by `secret` (what Binance expects)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


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
) -> None:
    """Raise `RejectedRequest` unless the request is signed by `api_key`/`api_secret` in time.

    The signed text is the query string followed by the body (Binance's totalParams).
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
    if timestamp > server_time_ms + MAX_AHEAD_MS:
        raise RejectedRequest(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if server_time_ms - timestamp > recv_window:
        raise RejectedRequest(-1021, "Timestamp for this request is outside of the recvWindow.")
