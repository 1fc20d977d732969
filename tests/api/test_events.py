"""The event stream: fills, denials, state changes and promotion decisions, resumable by Last-Event-ID."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import httpx
import pytest

from quantdesk.identity import set_disabled
from quantdesk.identity.tokens import revoke_token
from quantdesk.venue import SimulatedVenue
from tests.api.conftest import Desk, LiveServer

pytestmark = pytest.mark.integration


class Stream:
    """Read a server-sent event stream in a thread: events arrive on a queue as (event, id, data)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[tuple[str, str | None, Any]] = queue.Queue()
        self.status: int | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(60, read=120))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                event, event_id, data = "message", None, None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                    elif line == "" and data is not None:
                        self.events.put((event, event_id, data))
                        event, event_id, data = "message", None, None
        except Exception:  # noqa: BLE001 - closed from the test's side, or by the server
            pass
        finally:
            self._client.close()
        self.events.put(("closed", None, None))

    def take(self, count: int, timeout_s: float = 60) -> list[tuple[str, str | None, Any]]:
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            out.append(self.events.get(timeout=max(0.1, deadline - time.monotonic())))
        return out

    def close(self) -> None:
        self._client.close()
        self._thread.join(timeout=30)


def test_events_arrive_in_order_and_resume_after_the_last_id(live: LiveServer, desk: Desk,
                                                              venue: SimulatedVenue) -> None:
    url, viewer = f"{live.url}/v1/events", desk.auth("vera", "read")
    trader = desk.auth("tina", "trade")
    stream = Stream(url, viewer)
    time.sleep(1.0)  # connected, at the feed's head
    assert httpx.post(f"{live.url}/v1/halt", headers=trader, json={"reason": "drill"}).status_code == 200
    assert httpx.post(f"{live.url}/v1/resume", headers=trader, json={"reason": "drill over"}).status_code == 200
    order = httpx.post(f"{live.url}/v1/orders", headers={**trader, "Idempotency-Key": "e1"}, timeout=60,
                       json={"venue": "sim", "symbol": "BTC/USDT", "side": "buy", "qty": "0.2"})
    assert order.status_code == 201, order.text
    got = stream.take(3)
    assert [(e, d.get("state")) for e, _, d in got[:2]] == [("state", "HALTED"), ("state", "ACTIVE")]
    assert got[2][0] == "fill" and got[2][2]["qty"] == "0.2" and got[2][2]["client_order_id"] == \
        order.json()["client_order_id"]
    last_seen = got[2][1]
    stream.close()

    # while nobody listens: a denial and a halt
    denied = httpx.post(f"{live.url}/v1/orders", headers={**trader, "Idempotency-Key": "e2"}, timeout=60,
                        json={"venue": "sim", "symbol": "BTC/USDT", "side": "buy", "qty": "5"})
    assert denied.status_code == 409
    assert httpx.post(f"{live.url}/v1/halt", headers=trader, json={"reason": "again"}).status_code == 200

    resumed = Stream(url, {**viewer, "Last-Event-ID": str(last_seen)})
    missed = resumed.take(2)
    assert [e for e, _, _ in missed] == ["denial", "state"]
    assert missed[0][2]["code"] == "QTY_EXCEEDS_MAX_PER_ORDER" and missed[1][2]["state"] == "HALTED"
    replay = Stream(f"{url}?after=0.0.0&types=fill", viewer)  # from the start, fills only
    assert [e for e, _, _ in replay.take(1)] == ["fill"]
    resumed.close()
    replay.close()


def test_a_stream_ends_when_its_token_is_revoked_or_its_user_disabled(live: LiveServer, desk: Desk) -> None:
    url = f"{live.url}/v1/events"
    stream = Stream(url, desk.auth("vera", "read"))
    time.sleep(1.0)
    revoke_token(desk.ledger, desk.tokens["vera"]["read"][:12], actor="ada")
    event, _, data = stream.take(1)[0]
    assert event == "error" and data["error"]["code"] == "unauthorized" and "revoked" in data["error"]["message"]
    assert stream.take(1)[0][0] == "closed"

    other = Stream(url, desk.auth("theo", "read"))
    time.sleep(1.0)
    set_disabled(desk.ledger, "theo", True, actor="ada")
    event, _, data = other.take(1)[0]
    assert event == "error" and "disabled" in data["error"]["message"]
    stream.close()
    other.close()


def test_bad_resume_ids_and_types_are_refused_before_the_stream(live: LiveServer, desk: Desk) -> None:
    viewer = desk.auth("vera", "read")
    bad = httpx.get(f"{live.url}/v1/events", headers={**viewer, "Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_event_id"
    assert httpx.get(f"{live.url}/v1/events?types=gossip", headers=viewer).status_code == 400
    assert httpx.get(f"{live.url}/v1/events").status_code == 401
