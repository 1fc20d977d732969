"""HTTP glue of the simulated venue: stdlib ThreadingHTTPServer, faults, request log, admin.

One thread per connection, so a request that sleeps (a timeout fault) never blocks the
others. The admin endpoints let a CLI-run venue be driven from outside (JSON bodies):

    POST   /_admin/faults   {"kind": "rate_limit", "endpoint": "klines", "times": 2, "retry_after_s": 5}
    DELETE /_admin/faults   disarm all
    POST   /_admin/advance  {"to_ms": 1704067200000} or {"by_ms": 60000}
    POST   /_admin/book     {"price_offset_bps": 0} (the book's depth, spread, offset: venue/book_shape.py)
    GET    /_admin/requests counts per "METHOD /path"
    GET    /_admin/state    market time, balances, order and trade counts
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from quantdesk.core.clock import Clock
from quantdesk.venue.api import BinanceApi
from quantdesk.venue.faults import Fault, FaultBook, FaultKind
from quantdesk.venue.orders import RejectedRequest

__all__ = ["Answer", "HttpBackend", "RequestRecord", "VenueHttpServer", "error_answer", "json_answer"]

_MALFORMED = b'{"symbol": "BTCUSDT", "price": '


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One request the venue received; `status` 0 means it never answered."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: FaultKind | None
    received_ms: int


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, body bytes and headers."""

    status: int
    body: bytes
    headers: dict[str, str]


class HttpBackend(Protocol):
    """What the HTTP glue needs from the venue behind it (`SimulatedVenue` is one).

    The server depends on this, never on the venue module, so the arrow points one way:
    venue -> server.
    """

    api: BinanceApi
    faults: FaultBook
    lock: threading.RLock
    wall_clock: Clock
    internal_errors: list[Exception]

    def admin(self, method: str, path: str, body: str) -> Answer:
        """Answer a `/_admin/...` request."""
        ...

    def record(self, record: RequestRecord) -> None:
        """Keep one served request in the log."""
        ...


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    """Return a JSON answer."""
    return Answer(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def error_answer(code: int, msg: str, status: int, headers: dict[str, str] | None = None) -> Answer:
    """Return a Binance-style error answer `{"code", "msg"}`."""
    return json_answer(status, {"code": code, "msg": msg}, headers)


class _Handler(BaseHTTPRequestHandler):
    server: VenueHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: the venue keeps its own request log (and logs would leak query strings)."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib names
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        venue = self.server.venue
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path.startswith("/_admin/"):
            self._send(venue.admin(self.command, url.path, body))
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body, keep_blank_values=True))
        fault = venue.faults.take(self.command, url.path)
        answer: Answer | None
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            answer = None  # dropped before anything happens
        elif fault is not None and fault.kind is not FaultKind.ACCEPT_THEN_TIMEOUT:
            answer = self._fault_answer(fault, params, url.query, body)
        else:
            answer = self._process(params, url.path, url.query, body)
        venue.record(
            RequestRecord(
                method=self.command,
                path=url.path,
                params={k: v for k, v in params.items() if k != "signature"},
                status=answer.status if answer else 0,
                fault=fault.kind if fault else None,
                received_ms=venue.wall_clock.now_ms(),
            )
        )
        if fault is not None and fault.kind in (FaultKind.TIMEOUT, FaultKind.ACCEPT_THEN_TIMEOUT):
            self.server.stopping.wait(fault.delay_s)
        if answer is None:
            self.close_connection = True
            return
        self._send(answer)

    def _process(
        self,
        params: dict[str, str],
        path: str,
        query: str,
        body: str,
        call: Callable[..., Any] | None = None,
    ) -> Answer:
        venue = self.server.venue
        headers = {k: v for k, v in self.headers.items()}
        try:
            with venue.lock:
                if call is not None:
                    return json_answer(200, call(params))
                return json_answer(
                    200,
                    venue.api.handle(
                        self.command, path, params, headers=headers, query=query, body=body
                    ),
                )
        except RejectedRequest as e:
            return error_answer(e.code, e.msg, e.status)
        except (
            Exception
        ) as e:  # a bug in the venue: answer like Binance's -1000 and keep it for tests
            venue.internal_errors.append(e)
            return error_answer(
                -1000,
                f"An unknown error occurred while processing the request: {type(e).__name__}.",
                500,
            )

    def _fault_answer(self, fault: Fault, params: dict[str, str], query: str, body: str) -> Answer:
        retry = {"Retry-After": str(fault.retry_after_s)}
        match fault.kind:
            case FaultKind.RATE_LIMIT:
                return error_answer(
                    -1003,
                    "Too many requests; current limit is 6000 request weight per 1 MINUTE.",
                    429,
                    retry,
                )
            case FaultKind.IP_BAN:
                return error_answer(
                    -1003,
                    "Way too many requests; IP banned until later. Please use the websocket.",
                    418,
                    retry,
                )
            case FaultKind.SERVER_ERROR:
                return Answer(
                    fault.status,
                    b"Internal Server Error (simulated)",
                    {"Content-Type": "text/plain"},
                )
            case FaultKind.MALFORMED:
                return Answer(200, _MALFORMED, {"Content-Type": "application/json"})
            case FaultKind.TIMESTAMP_SKEW:
                return error_answer(
                    -1021, "Timestamp for this request is outside of the recvWindow.", 400
                )
            case FaultKind.INSUFFICIENT_BALANCE:
                if self.command == "POST":
                    return self._process(
                        params,
                        "",
                        query,
                        body,
                        call=self.server.venue.api.create_order_insufficient,
                    )
                return error_answer(-2010, "Account has insufficient balance for requested action.", 400)
        raise AssertionError(f"unhandled fault {fault.kind}")

    def _send(self, answer: Answer) -> None:
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            # the client gave up (its timeout fired during a timeout fault): nothing to tell it
            self.close_connection = True


class VenueHttpServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one venue (an `HttpBackend`)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, venue: HttpBackend, host: str, port: int) -> None:
        self.venue = venue
        self.stopping = threading.Event()
        super().__init__((host, port), _Handler)

    def handleerror_answer(self, request: Any, client_address: Any) -> None:
        """Ignore connections the client dropped (timeouts are part of the game); report the rest."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleerror_answer(request, client_address)
