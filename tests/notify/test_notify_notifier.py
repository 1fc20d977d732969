"""Notifier against a real local HTTP receiver (apprise `json://`): payloads arrive, failures never raise."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from quantdesk.notify import Notification, NotificationLevel, Notifier, redact_url


class Receiver:
    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.status = 200
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.payloads.append(json.loads(body))
                self.send_response(received.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


EVENT = Notification(level=NotificationLevel.WARNING, title="risk denial", body="NOTIONAL_EXCEEDS_MAX_PER_ORDER BTC/USDT")


def test_payload_arrives_at_the_receiver(receiver: Receiver) -> None:
    notifier = Notifier([f"json://127.0.0.1:{receiver.port}/"])
    assert notifier.enabled and notifier.channels == ["json://***"]
    assert notifier.notify(EVENT) is True
    assert len(receiver.payloads) == 1
    payload = receiver.payloads[0]
    assert payload["title"] == "risk denial"
    assert payload["message"] == "NOTIONAL_EXCEEDS_MAX_PER_ORDER BTC/USDT"
    assert payload["type"] == "warning"


def test_background_mode_delivers_after_flush(receiver: Receiver) -> None:
    notifier = Notifier([f"json://127.0.0.1:{receiver.port}/"], background=True)
    for i in range(3):
        assert notifier.notify(Notification(level=NotificationLevel.ERROR, title=f"t{i}", body="b"))
    notifier.flush()
    notifier.close()
    assert [p["title"] for p in receiver.payloads] == ["t0", "t1", "t2"]
    assert {p["type"] for p in receiver.payloads} == {"failure"}


def test_min_level_drops_info(receiver: Receiver) -> None:
    notifier = Notifier([f"json://127.0.0.1:{receiver.port}/"], min_level="warning")
    assert notifier.notify(Notification(level=NotificationLevel.INFO, title="fill", body="x")) is False
    assert notifier.notify(EVENT) is True
    assert [p["title"] for p in receiver.payloads] == ["risk denial"]


def test_from_settings_reads_notify_urls(receiver: Receiver, quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(f'[notify]\nurls = ["json://127.0.0.1:{receiver.port}/"]\n')
    assert Notifier.from_settings().notify(EVENT)
    assert len(receiver.payloads) == 1


def test_failures_never_raise_and_secrets_never_log(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.status = 500
    secret = "s3cr3t-T0KEN-value"
    with caplog.at_level(logging.DEBUG):
        notifier = Notifier([f"json://user:{secret}@127.0.0.1:{receiver.port}/", f"bogus://{secret}/x"])
        assert notifier.rejected == ["bogus://***"]
        assert notifier.notify(EVENT) is False  # the receiver answered 500
        closed = Notifier([f"json://user:{secret}@127.0.0.1:1/"])  # nothing listens on port 1
        assert closed.notify(EVENT) is False
    assert len(receiver.payloads) == 1
    assert secret not in caplog.text
    assert "not delivered" in caplog.text


def test_no_urls_is_a_quiet_no_op() -> None:
    notifier = Notifier([])
    assert not notifier.enabled
    assert notifier.notify(EVENT) is False


def test_redact_url_keeps_only_the_scheme() -> None:
    assert redact_url("tgram://123456:ABCDEF/987") == "tgram://***"
    assert redact_url("no-scheme-token") == "***"
