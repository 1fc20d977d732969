"""Canary keys: a distinctive API key and secret must appear nowhere we write."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from quantdesk.broker import redact
from quantdesk.core import ManualClock, QuantdeskError
from quantdesk.ledger import Ledger
from quantdesk.venue import FaultKind, SimulatedVenue

from .conftest import CANARY_KEY, CANARY_SECRET, SYMBOL, intent, make_gated

pytestmark = pytest.mark.integration


def dump_database(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return "\n".join(str(row) for table in meta.sorted_tables for row in conn.execute(table.select()))
    finally:
        engine.dispose()


def test_canary_keys_never_leak(
    venue: SimulatedVenue, ledger: Ledger, ledger_url: str, broker_clock: ManualClock,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # ccxt logs request headers (with the key) at DEBUG
    gated = make_gated(venue, ledger, broker_clock)
    gated.start()
    texts: list[str] = []

    texts.append(repr(gated.submit(intent("qd-canary-ok", qty="0.2"))))
    venue.inject(FaultKind.INSUFFICIENT_BALANCE, "order", method="POST")
    texts.append(repr(gated.submit(intent("qd-canary-funds", price="95"))))
    venue.inject(FaultKind.ACCEPT_THEN_TIMEOUT, "order", method="POST", delay_s=2.0)
    texts.append(repr(gated.submit(intent("qd-canary-timeout", price="95"))))
    venue.inject(FaultKind.SERVER_ERROR, "order", method="GET", status=503, times=5)
    try:
        gated.broker.fetch_order("qd-canary-timeout", SYMBOL)
    except QuantdeskError as e:
        texts += [str(e), repr(e)]
    venue.inject(FaultKind.RATE_LIMIT, "openOrders", retry_after_s=1)
    try:
        gated.broker.open_orders()
    except QuantdeskError as e:
        texts += [str(e), repr(e)]
    assert not gated.reconcile().agreed  # inside the window: nothing compared, nothing agreed
    broker_clock.advance(1_000)
    assert gated.reconcile().agreed
    assert len(texts) >= 5

    out, err = capfd.readouterr()
    haystacks = {
        "logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "stdout/stderr": out + err,
        "errors": "\n".join(texts),
        "database": dump_database(ledger_url),
    }
    assert "qd-canary-ok" in haystacks["database"]  # the dump is real
    assert any("Request" in r.getMessage() for r in caplog.records if r.name.startswith("ccxt"))
    for where, text in haystacks.items():
        for secret in (CANARY_KEY, CANARY_SECRET):
            assert secret not in text, f"a canary leaked into {where}"


def test_redact_removes_secrets_and_signatures() -> None:
    text = f"GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=abcdef0123 key={CANARY_KEY} {CANARY_SECRET}"
    clean = redact(text, [CANARY_KEY, CANARY_SECRET])
    assert CANARY_KEY not in clean and CANARY_SECRET not in clean and "abcdef0123" not in clean
    assert "symbol=BTCUSDT" in clean
