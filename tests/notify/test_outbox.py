"""The notification outbox: a CLI halt reaches a webhook, a crash loses nothing, a burst becomes a digest."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import SystemClock
from quantdesk.ledger import Ledger
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.notify import Notifier
from quantdesk.notify.delivery import drain_outbox

runner = CliRunner()


class Hook:
    """A local HTTP endpoint that records apprise's json:// posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook(quantdesk_home: Path) -> Iterator[Hook]:
    endpoint = Hook()
    (quantdesk_home / "quantdesk.toml").write_text(f'[notify]\nurls = ["{endpoint.url}"]\n')
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def _history() -> list[object]:
    with Ledger() as ledger:
        return LedgerOutbox(ledger).history()


def test_a_halt_typed_at_the_terminal_reaches_the_webhook(hook: Hook, operator: str) -> None:
    result = runner.invoke(app, ["halt", "--reason", "exchange incident"])
    assert result.exit_code == 0, result.output
    assert len(hook.posts) == 1
    assert hook.posts[0]["title"] == "HALTED global"
    assert "exchange incident" in str(hook.posts[0]["message"])
    [message] = _history()
    assert (message.event_type, message.status, message.attempts) == ("halt", "sent", 1)
    runner.invoke(app, ["resume"])
    assert [p["title"] for p in hook.posts] == ["HALTED global", "Trading resumed on global"]
    history = runner.invoke(app, ["notify", "history", "--json"])
    assert [m["status"] for m in json.loads(history.stdout)["messages"]] == ["sent", "sent"]


def test_an_event_written_by_a_process_killed_at_once_is_delivered_once_by_the_next(hook: Hook) -> None:
    script = (
        "import os, signal\n"
        "from quantdesk.core.types import TradingState\n"
        "from quantdesk.ledger import Ledger\n"
        "ledger = Ledger()\n"
        "ledger.set_trading_state('global', TradingState.HALTED, 'loss limit', 'runner')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr
    assert hook.posts == [] and [m.status for m in _history()] == ["pending"]
    for _ in range(2):
        assert runner.invoke(app, ["notify", "drain"]).exit_code == 0
    assert len(hook.posts) == 1 and "loss limit" in str(hook.posts[0]["message"])


def test_a_burst_of_denials_becomes_one_digest(hook: Hook) -> None:
    with Ledger() as ledger:
        for i in range(100):
            ledger.audit("gated-broker", "order.denied", {"code": "MAX_NOTIONAL", "symbol": "BTC/USDT", "n": i})
        report = drain_outbox(LedgerOutbox(ledger), Notifier([hook.url]), now=SystemClock().now())
    assert (report.sent, report.digested) == (1, 99)
    assert len(hook.posts) == 1 and hook.posts[0]["title"] == "100 denial events"
    statuses = [m.status for m in _history()]
    assert statuses.count("sent") == 1 and statuses.count("digested") == 99


def test_a_dead_channel_is_retried_with_backoff_then_marked_failed(quantdesk_home: Path) -> None:
    dead = Notifier(["json://127.0.0.1:9/nobody"])  # port 9 (discard): nothing listens
    now = SystemClock().now()
    with Ledger() as ledger:
        ledger.audit("ops", "trading_state.set", {"scope": "global", "state": "HALTED", "reason": "test"})
        outbox = LedgerOutbox(ledger)
        first = drain_outbox(outbox, dead, now=now, max_attempts=3)
        [message] = outbox.history()
        assert first.retrying == 1 and message.status == "pending" and message.attempts == 1
        assert message.next_attempt_at is not None and message.next_attempt_at > now
        assert drain_outbox(outbox, dead, now=now).retrying == 0, "not due again before its back-off"
        later = now
        for _ in range(2):
            later += timedelta(hours=1)
            drain_outbox(outbox, dead, now=later, max_attempts=3)
        [message] = outbox.history()
    assert (message.status, message.attempts) == ("failed", 3) and message.last_error


def test_without_a_channel_messages_are_kept_as_skipped(quantdesk_home: Path, operator: str) -> None:
    assert runner.invoke(app, ["halt"]).exit_code == 0
    [message] = _history()
    assert message.status == "skipped" and "no notification channel" in (message.last_error or "")


def test_a_stored_channel_is_encrypted_redacted_and_used(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel URL carries its token: stored encrypted, shown as scheme://***, decrypted only to send."""
    from quantdesk.identity import add_user

    endpoint = Hook()
    try:
        url = endpoint.url + "?canary=tok-9b8a7c6d5e4f"
        monkeypatch.setenv("QUANTDESK_USER", "olga")
        with Ledger() as ledger:
            add_user(ledger, "olga", "admin", actor="olga", password="olga-passphrase")
        added = runner.invoke(app, ["notify", "channel", "add", "desk", "--stdin"], input=f"olga-passphrase\n{url}\n")
        assert added.exit_code == 0, added.output
        listed = runner.invoke(app, ["notify", "channel", "list", "--json"])
        [channel] = json.loads(listed.stdout)["channels"]
        assert channel["redacted"] == "json://***"
        assert runner.invoke(app, ["halt", "--reason", "stored channel"]).exit_code == 0
        assert [p["title"] for p in endpoint.posts] == ["HALTED global"]
        with Ledger() as ledger:
            audit = json.dumps([e.payload for e in ledger.audit_log()])
        shown = added.output + listed.output + audit + (quantdesk_home / "quantdesk.db").read_bytes().decode("latin-1")
        assert "tok-9b8a7c6d5e4f" not in shown
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()


def test_subscriptions_route_each_event_to_the_channels_that_want_it(quantdesk_home: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`ops` hears only halts (warning and up) on `pager`; `log` has no subscription and hears everything."""
    from quantdesk.identity import add_user
    from quantdesk.identity.channels import add_channel, subscribe
    from quantdesk.live.notifications import desk_notifier, desk_router

    pager, log = Hook(), Hook()
    try:
        with Ledger() as ledger:
            add_user(ledger, "ops", "admin", actor="ops", password="ops-passphrase")
            add_channel(ledger, "pager", pager.url, actor="ops")
            add_channel(ledger, "log", log.url, actor="ops")
            subscribe(ledger, "ops", "pager", event_type="halt", min_level="warning", actor="ops")
            ledger.audit("ops", "trading_state.set", {"scope": "global", "state": "HALTED", "reason": "r"})
            ledger.audit("gated-broker", "order.submitted", {"status": "filled", "client_order_id": "qd-1"})
            drain_outbox(LedgerOutbox(ledger), desk_notifier(ledger), now=SystemClock().now(), route=desk_router(ledger))
        assert [p["title"] for p in pager.posts] == ["HALTED global"]
        assert len(log.posts) == 2 and "HALTED global" in [p["title"] for p in log.posts], "log hears everything"
        listed = runner.invoke(app, ["notify", "subscriptions", "--json"])
        assert json.loads(listed.stdout)["subscriptions"] == [
            {"user": "ops", "channel": "pager", "event_type": "halt", "min_level": "warning"}]
    finally:
        for hook in (pager, log):
            hook.server.shutdown()
            hook.server.server_close()


def test_a_hanging_channel_never_holds_a_command_and_the_message_is_not_lost(quantdesk_home: Path,
                                                                            operator: str) -> None:
    """The webhook takes the request and never answers while the test holds it: `halt` still returns."""
    received, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.set()
            release.wait(60)  # hangs like a dead channel
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (quantdesk_home / "quantdesk.toml").write_text(
        f'[notify]\nurls = ["json://127.0.0.1:{server.server_address[1]}/hook"]\n')
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("quantdesk")), "halt", "--reason", "incident"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert received.is_set() and not release.is_set(), "halt returned while the channel still held its message"
        with Ledger() as ledger:
            assert any(s.state == "HALTED" for s in ledger.trading_states())
            [message] = LedgerOutbox(ledger).history()
        assert message.event_type == "halt" and message.status in ("pending", "retrying"), message.status
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_subscriptions_from_the_dashboard_are_for_yourself_unless_you_are_an_admin(quantdesk_home: Path) -> None:
    from quantdesk.desk import add_subscription
    from quantdesk.identity import add_user
    from quantdesk.identity.channels import add_channel, subscriptions

    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice")
        add_user(ledger, "tina", "trader", actor="alice")
        add_user(ledger, "vic", "viewer", actor="alice")
        add_channel(ledger, "desk-hook", "json://127.0.0.1:9/hook", actor="alice")
        assert add_subscription(ledger, "vic", subscriber="tina", channel="desk-hook").startswith("refused")
        assert "vic now gets halt at warning" in add_subscription(ledger, "vic", subscriber="vic", channel="desk-hook",
                                                                  event_type="halt", min_level="warning")
        assert "tina now gets" in add_subscription(ledger, "alice", subscriber="tina", channel="desk-hook")
        rows = {(s["user"], s["event_type"], s["min_level"]) for s in subscriptions(ledger)}
        assert rows == {("vic", "halt", "warning"), ("tina", "*", "info")}
        denied = ledger.audit_log(action="auth.denied")[-1]  # the policy's refusal, from the page
        assert denied.actor == "vic" and denied.payload["action"] == "manage_channels"
        assert denied.payload["via"] == "dashboard"
