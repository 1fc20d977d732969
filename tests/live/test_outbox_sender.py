"""The runner's outbox sender: a channel that hangs holds up only its own thread, never the ledger's writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from quantdesk.core.clock import SystemClock
from quantdesk.core.types import TradingState
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.live.notifications import OutboxSender
from quantdesk.notify import Notifier


class HangingHook:
    """Accepts a POST, then blocks until released: a channel that hangs."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.posts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts += 1
                hook.entered.set()
                hook.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook() -> Iterator[HangingHook]:
    h = HangingHook()
    yield h
    h.release.set()
    h.server.shutdown()
    h.server.server_close()


def test_a_hanging_channel_never_blocks_the_ledgers_writers(hook: HangingHook, tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.set_trading_state("global", TradingState.HALTED, "loss limit", "runner:x")
        sender = OutboxSender(ledger, Notifier([hook.url]), SystemClock(), interval_s=0.05).start()
        assert hook.entered.wait(60), "the sender picked the halt up"
        # The channel is now stuck inside the sender's thread; the runner's writes go on.
        ledger.set_trading_state("global", TradingState.ACTIVE, "resumed", "ops")
        ledger.audit("gated-broker", "order.denied", {"code": "MAX_NOTIONAL", "symbol": "BTC/USDT"})
        assert not hook.release.is_set(), "both writes finished while the channel still hung"
        pending = [m.event_type for m in LedgerOutbox(ledger).history() if m.status == "pending"]
        assert pending == ["halt", "resume", "denial"]
        hook.release.set()
        sender.stop()
        statuses = {m.event_type: m.status for m in LedgerOutbox(ledger).history()}
    assert statuses == {"halt": "sent", "resume": "sent", "denial": "sent"}
    assert hook.posts == 3
