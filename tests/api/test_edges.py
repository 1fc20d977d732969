"""Limits, errors, paging, docs, and the canary: a token never appears in logs, errors or the audit log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from quantdesk.api import ApiConfig, create_app
from quantdesk.identity.tokens import create_token
from quantdesk.ledger.schema import api_tokens, audit_log
from tests.api.conftest import Desk, LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def tight(desk: Desk) -> Iterator[LiveServer]:
    config = ApiConfig(token_rate_per_s=0.5, token_burst=3, address_rate_per_s=1000, address_burst=1000,
                       max_body_bytes=1024)
    with LiveServer(create_app(ledger=desk.ledger, config=config)) as server:
        yield server


def test_a_token_over_its_bucket_gets_429_with_retry_after(tight: LiveServer, desk: Desk) -> None:
    headers = desk.auth("vera", "read")
    answers = [httpx.get(f"{tight.url}/v1/me", headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["error"]["code"] == "rate_limited" and int(answers[3].headers["Retry-After"]) >= 1
    assert httpx.get(f"{tight.url}/v1/me", headers=desk.auth("tina", "read")).status_code == 200  # per token


def test_an_address_over_its_bucket_gets_429_before_any_token_is_read(desk: Desk) -> None:
    config = ApiConfig(address_rate_per_s=0.5, address_burst=2)
    with LiveServer(create_app(ledger=desk.ledger, config=config)) as server:
        codes = [httpx.get(f"{server.url}/v1/me").status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]


def test_bodies_over_the_cap_get_413_declared_or_streamed(tight: LiveServer, desk: Desk) -> None:
    headers = desk.auth("tina", "trade")
    big = {"reason": "x" * 2000}
    declared = httpx.post(f"{tight.url}/v1/halt", headers=headers, json=big)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        yield b"y" * 2000
        yield b'"}'

    streamed = httpx.post(f"{tight.url}/v1/halt", headers={**headers, "Content-Type": "application/json"},
                          content=chunks())
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"
    assert desk.ledger.get_trading_state("global") == "ACTIVE"


def test_every_error_is_one_json_shape(client: httpx.Client, desk: Desk) -> None:
    headers = desk.auth("ada", "admin")
    answers = {
        "unknown path": client.get("/v1/nothing", headers=headers),
        "wrong method": client.delete("/v1/positions", headers=headers),
        "invalid query": client.get("/v1/orders?limit=0", headers=headers),
        "invalid body": client.post("/v1/halt", headers=headers, json={"reason": 5, "extra": 1}),
        "bad cursor": client.get("/v1/orders?cursor=zzz", headers=headers),
        "backwards window": client.get("/v1/fills?since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z",
                                       headers=headers),
        "unknown order": client.get("/v1/orders/qd-none", headers=headers),
        "unknown run": client.get("/v1/runs/backtest-none", headers=headers),
    }
    for name, answer in answers.items():
        body = answer.json()
        assert 400 <= answer.status_code < 500, (name, answer.status_code)
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), (name, body)
        assert "\n" not in body["error"]["message"], (name, body)


def test_an_unexpected_failure_is_a_500_naming_an_incident_not_the_error(
        client: httpx.Client, desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def boom(**_: object) -> None:
        raise RuntimeError("secret " + "detail 4f9a")  # (the source line itself never holds the text)

    monkeypatch.setattr(desk.ledger, "positions", boom)
    with caplog.at_level(logging.ERROR, logger="quantdesk.api"):
        answer = client.get("/v1/positions", headers=desk.auth("vera", "read"))
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    assert "secret detail" not in answer.text and "incident" in answer.json()["error"]["message"]
    assert "RuntimeError" in caplog.text and "secret detail" not in caplog.text


def test_pages_walk_every_row_once_newest_first(client: httpx.Client, desk: Desk) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(23):
        desk.ledger.record_fill(venue="sim" if i % 2 else "other", account="default", trade_id=f"t{i}",
                                symbol="BTC/USDT", side="buy", qty="0.001", price=f"{100 + i}.125",
                                ts=t0 + timedelta(minutes=i), fee="0.0001")
    headers, seen, cursor = desk.auth("vera", "read"), [], None
    while True:
        page = client.get("/v1/fills", headers=headers, params={"limit": 5, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        assert len(body["items"]) <= 5
        seen += [f["trade_id"] for f in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"t{i}" for i in reversed(range(23))]
    sim = client.get("/v1/fills", headers=headers, params={"venue": "sim", "limit": 500,
                                                           "since": "2024-01-01T00:10:00+00:00"}).json()["items"]
    assert [f["trade_id"] for f in sim] == [f"t{i}" for i in reversed(range(11, 23, 2))]
    assert sim[0]["price"] == "121.125" and sim[0]["ts"] == "2024-01-01T00:21:00Z"
    aggregate = client.get("/v1/positions/aggregate", headers=headers).json()["items"]
    cost = sum((Decimal("0.001") * Decimal(f"{100 + i}.125") for i in range(23)), Decimal(0))
    assert aggregate == [{"symbol": "BTC/USDT", "qty": "0.023", "cost": format(cost, "f"), "fees": "0.0023",
                          "fill_count": 23, "venues": ["other", "sim"]}]


def test_the_docs_page_and_its_assets_come_from_this_server(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text and "/docs-assets/swagger-ui.css" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.replace("https://swagger.io", "")
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_canary_token_never_shows_in_answers_logs_or_the_audit_log(
        client: httpx.Client, desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    canary, info = create_token(desk.ledger, user="tina", scope="read", expires="1d", actor="ada")
    secret = canary[13:]
    variants = [canary, canary[:-1] + ("x" if canary[-1] != "x" else "y"), canary + "x", f"{canary[:12]}_{secret}"]
    texts = []
    with caplog.at_level(logging.DEBUG):
        for value in variants:
            for answer in (client.get("/v1/me", headers={"Authorization": f"Bearer {value}"}),
                           client.post("/v1/halt", headers={"Authorization": f"Bearer {value}"}, json={}),
                           client.get("/v1/events", headers={"Authorization": f"Bearer {value}",
                                                             "Last-Event-ID": "x"})):
                texts.append(answer.text)
    with desk.ledger.engine.connect() as c:
        stored = [repr(r) for r in c.execute(select(audit_log))] + [repr(r) for r in c.execute(select(api_tokens))]
    for where, text in (("answers", "\n".join(texts)), ("logs", caplog.text), ("ledger", "\n".join(stored))):
        assert secret not in text, f"the token's secret appeared in the {where}"
    assert any(info.prefix in s for s in stored)  # what the ledger keeps: the prefix


def test_the_books_var_is_served_as_the_cli_computes_it(client: httpx.Client, desk: Desk) -> None:
    answer = client.get("/v1/risk/var", headers=desk.auth("vera", "read"))
    assert answer.status_code in (200, 422), answer.text  # an empty book: 422 naming why, never a 5xx
    if answer.status_code == 200:
        assert {"var_quote", "es_quote", "contributions", "method"} <= set(answer.json())
    assert client.get("/v1/risk/var?confidence=2", headers=desk.auth("vera", "read")).status_code == 422
