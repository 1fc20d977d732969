"""Every error the API answers is JSON `{"error": {"code": ..., "message": ...}}` with a one-line message.

`ApiError` is raised by routes; quantdesk's typed errors map to a status by family (a refused
permission is 403, an unknown run 404, a promotion refused 409, a venue failure 502); FastAPI's
and Starlette's own errors (validation, unknown path, wrong method) are rewritten to the same
shape; anything unexpected is a 500 whose message names an incident id found in the server log,
never the exception's text (it could hold a request's secrets): `answer_unexpected`, called by the
outermost middleware, so neither Starlette nor uvicorn logs the exception's message either.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from quantdesk.core import errors as qe

__all__ = ["ERROR_RESPONSES", "ApiError", "ErrorBody", "error_json", "incident_answer", "install_error_handlers",
           "status_for"]

log = logging.getLogger("quantdesk.api")


class ErrorDetail(BaseModel):
    """What failed: a stable code for programs and a one-line message for people."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The errors any authenticated route may answer (declared so the OpenAPI document is complete).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Bad request: a malformed cursor, header or value"),
    401: _error("Missing, malformed, unknown, expired or revoked token"),
    403: _error("The token's scope or its user's role does not allow this"),
    404: _error("No such resource"),
    413: _error("Request body too large"),
    422: _error("The request does not validate"),
    429: _error("Rate limited: wait Retry-After seconds"),
}


class ApiError(Exception):
    """An answer other than success: HTTP `status`, a stable `code`, a one-line `message`."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def error_json(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return the error body for `code` and `message` (one line)."""
    return {"error": {"code": code, "message": " ".join(str(message).split()), **extra}}


# (family, status, code), most specific first
_FAMILIES: list[tuple[type[qe.QuantdeskError], int, str]] = [
    (qe.AuthenticationError, 401, "unauthorized"),
    (qe.PermissionDeniedError, 403, "forbidden"),
    (qe.OrderNotFoundError, 404, "not_found"),
    (qe.BacktestError, 404, "not_found"),
    (qe.BrokerError, 502, "venue_error"),
    (qe.PromotionError, 409, "promotion_refused"),
    (qe.LedgerError, 409, "ledger_refused"),
    (qe.IdentityError, 422, "invalid_request"),
    (qe.ConfigError, 422, "invalid_request"),
    (qe.StrategyError, 422, "invalid_request"),
    (qe.DataError, 422, "invalid_request"),
    (qe.RiskError, 422, "invalid_request"),
]


def status_for(error: qe.QuantdeskError) -> tuple[int, str]:
    """Return the HTTP status and error code that answer `error`."""
    for family, status, code in _FAMILIES:
        if isinstance(error, family):
            return status, code
    return 400, "bad_request"


_STARLETTE_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts) + " (see /openapi.json)"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as `{"error": {"code", "message"}}`."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(error_json(e.code, e.message, **e.extra), status_code=e.status, headers=e.headers)

    @app.exception_handler(qe.QuantdeskError)
    async def _quantdesk_error(_: Request, e: qe.QuantdeskError) -> JSONResponse:
        status, code = status_for(e)
        return JSONResponse(error_json(code, str(e)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_json("invalid_request", _validation_message(e)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = _STARLETTE_CODES.get(e.status_code, "error")
        message = {404: f"no such path {request.url.path!r}: see /docs for the API",
                   405: f"{request.method} is not allowed on {request.url.path!r}: see /docs"}.get(
            e.status_code, str(e.detail))
        return JSONResponse(error_json(code, message), status_code=e.status_code, headers=e.headers)


def incident_answer(method: str, path: str, error: BaseException) -> tuple[int, dict[str, Any]]:
    """Log an unexpected failure (its type and frames, never its text) and return the 500 to answer."""
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: %s on %s %s\n%s", incident, type(error).__name__, method, path,
              "".join(traceback.format_tb(error.__traceback__)))
    return 500, error_json("internal_error", f"internal error (incident {incident} in the server log)")
