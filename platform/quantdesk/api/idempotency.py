"""`Idempotency-Key`: a retried POST is answered with its first answer, never acted on twice.

The key is remembered per user in the ledger (`api_idempotency`) with a digest of the request
BEFORE the action runs, and the answer is stored after it. A retry with the same key and the
same request gets the stored answer (`Idempotent-Replayed: true`); with another request, 422.
If the server died between the action and its answer, the row has no answer and the retry
runs the action again, which is safe because every action is idempotent underneath: an order's
client order id is derived from (user, key), so its intent row, written before anything is sent,
is found and resolved at the venue (`GatedBroker.submit`: ALREADY_SUBMITTED), never sent again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse

from quantdesk.api.errors import ApiError, error_json, status_for
from quantdesk.core.errors import QuantdeskError
from quantdesk.ledger.api_rows import answer_idempotency, claim_idempotency

if TYPE_CHECKING:
    from quantdesk.api.auth import Caller
    from quantdesk.api.context import ApiContext

__all__ = ["IdempotencyKey", "RequiredIdempotencyKey", "request_digest", "run_once"]

_KEY_DOC = ("Any 1-255 printable ASCII characters, new for each new request (a UUID). A retry with the same key "
            "gets the first answer; it never acts twice.")
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                               pattern=r"^[\x21-\x7e]+$", description=_KEY_DOC)]
RequiredIdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                               pattern=r"^[\x21-\x7e]+$", description=_KEY_DOC)]
Answer = tuple[int, dict[str, Any]]
PRUNE_EVERY_S = 60.0  # keys past the window are forgotten at most once a minute, not on every request


class _Every:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._last = -seconds

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._seconds:
                return False
            self._last = now
            return True


_PRUNE = _Every(PRUNE_EVERY_S)


def request_digest(method: str, path: str, body: dict[str, Any] | None) -> str:
    """Return the digest that tells a retry (same request) from a reused key (another request)."""
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer(action: Callable[[], Answer]) -> Answer:
    try:
        return action()
    except ApiError as e:
        return e.status, error_json(e.code, e.message, **e.extra)
    except QuantdeskError as e:
        status, code = status_for(e)
        return status, error_json(code, str(e))


def run_once(ctx: ApiContext, caller: Caller, key: str | None, digest: str, action: Callable[[], Answer], *,
             client_order_id: str | None = None) -> JSONResponse:
    """Run `action` (returning status and JSON body) once per (user, key); replay its answer to retries."""
    if key is None:
        status, body = _answer(action)
        return JSONResponse(body, status_code=status)
    now = ctx.ledger._now()
    row, new = claim_idempotency(ctx.ledger, user=caller.user, key=key, request_hash=digest,
                                 client_order_id=client_order_id, now=now,
                                 forget_before=now - timedelta(hours=ctx.config.idempotency_hours)
                                 if _PRUNE.due() else None)
    if not new:
        if row.request_hash != digest:
            raise ApiError(422, "idempotency_key_reused", f"Idempotency-Key {key[:40]!r} was used for another "
                           "request: send a new key with a new request (a retry repeats the request unchanged)")
        if row.status_code is not None and row.body is not None:
            return JSONResponse(json.loads(row.body), status_code=row.status_code,
                                headers={"Idempotent-Replayed": "true"})
    status, body = _answer(action)
    if status < 500:  # a server failure is not an answer: the retry runs the action again
        answer_idempotency(ctx.ledger, user=caller.user, key=key, status_code=status,
                           body=json.dumps(body, separators=(",", ":")), at=ctx.ledger._now())
    return JSONResponse(body, status_code=status)
