"""Idempotency-Key: a retried POST never places a second order, even when the server dies before answering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from quantdesk.broker import derive_client_order_id
from quantdesk.core.types import OrderStatus
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.faults import Fault, FaultKind
from tests.api.conftest import Desk, free_port

pytestmark = pytest.mark.integration

ORDER = {"venue": "sim", "symbol": "BTC/USDT", "side": "buy", "qty": "0.2"}


def test_a_retry_with_the_same_key_is_answered_not_sent_again(client: httpx.Client, desk: Desk,
                                                               venue: SimulatedVenue) -> None:
    headers = {**desk.auth("tina", "trade"), "Idempotency-Key": "retry-1"}
    first = client.post("/v1/orders", headers=headers, json=ORDER)
    assert first.status_code == 201, first.text
    again = client.post("/v1/orders", headers=headers, json=ORDER)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(venue.orders()) == 1 and venue.request_count("order", "POST") == 1
    assert first.json()["client_order_id"] == derive_client_order_id("manual", "api\x1ftina\x1fretry-1")

    changed = client.post("/v1/orders", headers=headers, json={**ORDER, "qty": "0.3"})
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
    # theo's key is his own; his order differs from tina's, which the built-in duplicate window would
    # refuse within 500 ms (DUPLICATE_ORDER: same symbol, side, qty and price)
    other_user = client.post("/v1/orders", headers={**desk.auth("theo", "trade"), "Idempotency-Key": "retry-1"},
                             json={**ORDER, "qty": "0.25"})
    assert other_user.status_code == 201 and other_user.json()["client_order_id"] != first.json()["client_order_id"]
    assert len(venue.orders()) == 2

    missing = client.post("/v1/orders", headers=desk.auth("tina", "trade"), json=ORDER)
    assert missing.status_code == 422 and "Idempotency-Key" in missing.text


def test_a_denied_order_is_replayed_as_denied_even_after_the_limit_is_raised(
        client: httpx.Client, desk: Desk, venue: SimulatedVenue, quantdesk_home: Path) -> None:
    headers = {**desk.auth("tina", "trade"), "Idempotency-Key": "big"}
    denied = client.post("/v1/orders", headers=headers, json={**ORDER, "qty": "5"})
    assert denied.status_code == 409 and denied.json()["error"]["risk_code"] == "QTY_EXCEEDS_MAX_PER_ORDER"
    assert client.post("/v1/orders", headers=headers, json={**ORDER, "qty": "5"}).json() == denied.json()
    assert venue.orders() == []


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml")}
    quantdesk = Path(sys.executable).parent / "quantdesk"
    with log.open("ab") as out:
        process = subprocess.Popen([str(quantdesk), "api", "serve", "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the API server did not start:\n{log.read_text()}")


def test_killed_between_the_write_and_the_answer_the_retry_reaches_the_venue_once(
        desk: Desk, venue: SimulatedVenue, quantdesk_home: Path, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "api.log"
    url = f"http://127.0.0.1:{port}/v1/orders"
    headers = {**desk.auth("tina", "trade"), "Idempotency-Key": "kill-me"}
    cid = derive_client_order_id("manual", "api\x1ftina\x1fkill-me")
    # the venue takes the order, then holds its answer: the server is killed while it waits
    venue.faults.arm(Fault(kind=FaultKind.ACCEPT_THEN_TIMEOUT, endpoint="order", method="POST", delay_s=60))
    server = _serve(quantdesk_home, port, log)
    lost: list[object] = []
    sender = threading.Thread(target=lambda: lost.append(_post(url, headers)), daemon=True)
    sender.start()
    deadline = time.monotonic() + 60
    with Ledger() as reader:
        while time.monotonic() < deadline:
            row = reader.order(cid)
            if row is not None and row.status is OrderStatus.SENT and venue.request_count("order", "POST") == 1:
                break
            time.sleep(0.05)
        else:
            server.kill()
            raise AssertionError(f"the order never reached the venue:\n{log.read_text()}")
    server.send_signal(signal.SIGKILL)  # between the write and the answer
    server.wait(timeout=30)
    sender.join(timeout=30)
    assert lost and isinstance(lost[0], httpx.HTTPError), lost  # the client got no answer
    assert len(venue.orders()) == 1

    server = _serve(quantdesk_home, port, log)
    try:
        retry = httpx.post(url, headers=headers, json=ORDER, timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert retry.status_code == 201, retry.text
    assert retry.json()["client_order_id"] == cid
    assert retry.json()["code"] == "ALREADY_SUBMITTED" and retry.json()["status"] == "filled"
    assert venue.request_count("order", "POST") == 1, venue.request_counts()
    assert [o.client_order_id for o in venue.orders()] == [cid]
    with Ledger() as reader:
        assert reader.order(cid).status is OrderStatus.FILLED
        assert len(reader.orders()) == 1


def _post(url: str, headers: dict[str, str]) -> object:
    try:
        return httpx.post(url, headers=headers, json=ORDER, timeout=120)
    except httpx.HTTPError as e:
        return e
