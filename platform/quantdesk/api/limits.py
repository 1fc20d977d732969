"""Rate limits (token buckets per token and per client address) and the request body cap.

A bucket holds up to `burst` requests and refills at `rate_per_s`; a request takes one, and
an empty bucket answers 429 with `Retry-After` (whole seconds until one is back). Buckets
live in the server process (one uvicorn process serves the API): a restart refills them.
The address limit and the body cap are an ASGI middleware, so they hold before any token is
looked at; the token limit is taken once the token is known (`quantdesk.api.auth`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

from quantdesk.api.errors import error_json, incident_answer

__all__ = ["BodyTooLarge", "Guard", "TokenBuckets"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_IDLE_S = 600.0  # a bucket untouched this long is full again: forget it
_MAX_KEYS = 10_000


class TokenBuckets:
    """One token bucket per key (a token prefix, a client address), thread-safe."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take one request from `key`'s bucket; return 0.0, or the seconds to wait when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate_per_s
            if len(self._buckets) > _MAX_KEYS:
                self._forget_idle(now)
        return wait

    def _forget_idle(self, now: float) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < _IDLE_S}


def retry_after(wait_s: float) -> str:
    """Return a Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))


class BodyTooLarge(HTTPException):
    """The request body grew past the cap while it was read (an HTTPException: FastAPI passes it on)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, _too_large(cap))


def _too_large(cap: int) -> str:
    return f"request body over {cap} bytes: send less (the [api] max_body_bytes cap)"


class Guard:
    """ASGI middleware: the per-address rate limit, the body cap (declared and streamed), and the 500 answer."""

    def __init__(self, app: ASGIApp, *, addresses: TokenBuckets, max_body_bytes: int) -> None:
        self.app = app
        self.addresses = addresses
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.addresses.take(client[0] if client else "unknown")
        if wait:
            await _answer(send, 429, "rate_limited",
                          f"too many requests from this address: retry after {retry_after(wait)} s",
                          {"retry-after": retry_after(wait)})
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _answer(send, 413, "payload_too_large", _too_large(self.max_body_bytes))
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, "payload_too_large", _too_large(self.max_body_bytes))
        except Exception as e:  # noqa: BLE001 - answered here, so nobody logs its message
            status, body = incident_answer(scope.get("method", ""), scope.get("path", ""), e)
            if not started:
                await _send_json(send, status, body)


async def _answer(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    await _send_json(send, status, error_json(code, message), headers)


async def _send_json(send: Send, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
