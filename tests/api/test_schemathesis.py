"""Property-based tests of the live API from its own OpenAPI document (schemathesis).

For every operation, schemathesis generates requests that fit the document (and, separately,
requests that break it) and sends them to the real server (uvicorn, real ledger, the real
ccxt client to a simulated venue), once with a trader's read-scoped token and once with their
trade-scoped token. No answer may be a 5xx, every answer must match its documented status,
content type and schema; and nothing the read token sends may change the ledger (only the
audit log grows, by the refusals it must record).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from quantdesk.api import create_app
from quantdesk.ledger import Ledger
from quantdesk.ledger.schema import audit_log, metadata
from tests.api.conftest import UNLIMITED, Desk, LiveServer

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# the event stream never ends by itself: tests/api/test_events.py covers it
STREAMS = {"/v1/events"}
EXAMPLES = 12  # per operation and mode: ~24 operations x 2 modes x 2 tokens on a shared 2-core machine


def _snapshot(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, except the audit log (refusals are audited) and tokens' last use."""
    out = {}
    with ledger.engine.connect() as c:
        for table in metadata.sorted_tables:
            if table.name == "audit_log":
                continue
            columns = [col for col in table.columns if col.name != "last_used_at"]
            out[table.name] = sorted(tuple(map(repr, row)) for row in c.execute(select(*columns)))
    return out


@pytest.fixture
def api(desk: Desk, venue: Any) -> Iterator[tuple[LiveServer, Any]]:
    with LiveServer(create_app(ledger=desk.ledger, config=UNLIMITED)) as server:
        # something to read: a filled order (an order, a fill, a position) and a denied one (a denial)
        for key, qty in (("seed-1", "0.2"), ("seed-2", "5")):
            answer = httpx.post(f"{server.url}/v1/orders", json={"venue": "sim", "symbol": "BTC/USDT", "side": "buy",
                                                                 "qty": qty},
                                headers={**desk.auth("tina", "trade"), "Idempotency-Key": key}, timeout=60)
            assert answer.status_code in (201, 409), answer.text
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        yield server, schema


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path not in STREAMS]


def _on_the_venue(case: Any) -> Any:
    """Send generated orders to the configured venue (a random venue name stops at 422, before the gate)."""
    if case.method == "POST" and case.path == "/v1/orders" and isinstance(case.body, dict) and "venue" in case.body:
        case.body["venue"] = "sim"
    return case


def _fuzz(server: LiveServer, schema: Any, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[str] = []
    for operation in _operations(schema):
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode).map(_on_the_venue)
            checks = CHECKS if mode is schemathesis.GenerationMode.POSITIVE else [not_a_server_error]

            @given(case=strategy)
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def exercise(case: Any) -> None:
                response = case.call(base_url=server.url, headers=headers, timeout=60)
                # runs inside this loop pass, so `checks` is this mode's list (hypothesis allows no defaults)
                case.validate_response(response, checks=checks, headers=headers)  # noqa: B023
                seen.append(f"{case.method} {case.path} {response.status_code}")

            try:
                exercise()
            except Unsatisfiable:  # nothing to break in an operation without inputs (e.g. GET /v1/me)
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return seen


def test_a_read_token_breaks_nothing_and_changes_nothing(api: tuple[LiveServer, Any], desk: Desk) -> None:
    server, schema = api
    before = _snapshot(desk.ledger)
    last_seq = max((e.seq for e in desk.ledger.audit_log(limit=1)), default=0)
    seen = _fuzz(server, schema, desk.tokens["tina"]["read"])
    assert any(s.startswith("POST /v1/halt 403") for s in seen), "the read token never tried to act"
    assert any(s.startswith("GET /v1/positions 200") for s in seen), "the read token never read"
    assert _snapshot(desk.ledger) == before, "a read token changed the ledger"
    with desk.ledger.engine.connect() as c:
        added = {r.action for r in c.execute(select(audit_log.c.action).where(audit_log.c.seq > last_seq))}
    assert added <= {"api.refused", "auth.denied"}, added


def test_a_trade_token_gets_no_server_error_and_only_documented_answers(api: tuple[LiveServer, Any],
                                                                        desk: Desk) -> None:
    server, schema = api
    seen = _fuzz(server, schema, desk.tokens["tina"]["trade"])
    statuses = {s.rsplit(" ", 1)[1] for s in seen if s.startswith("POST /v1/orders ")}
    assert statuses & {"201", "409"}, f"no generated order reached the gate: {sorted(set(seen))[:20]}"

