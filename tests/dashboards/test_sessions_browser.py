"""Sessions end when the user does (issue 23): disabling a user or changing their password ends open pages."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from quantdesk.identity import set_disabled, set_password
from quantdesk.ledger import Ledger
from tests.dashboards.test_dashboards_browser import CHROMIUM, PASSWORDS, _login

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("dashboard-sessions")]


def _cookie_header(page: object) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())  # type: ignore[attr-defined]


def _websocket_status(server: str, cookie: str) -> int:
    """Open the trading page's websocket with `cookie`; return 101 if accepted, else the HTTP status."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    async def attempt() -> int:
        request = HTTPRequest(server.replace("http://", "ws://") + "/trading/ws", headers={"Cookie": cookie})
        try:
            connection = await websocket_connect(request)
        except HTTPClientError as e:
            return e.code
        connection.close()
        return 101

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        return pool.submit(asyncio.run, attempt()).result()


def _ended_entries() -> list[object]:
    with Ledger() as ledger:
        return ledger.audit_log(action="auth.session_ended")


def _wait_for(page: object, predicate: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)  # type: ignore[attr-defined]  # lets Playwright run its route handlers


@pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")
def test_disabling_a_user_ends_their_open_page_and_refuses_its_actions(server: str, browser: object) -> None:
    tina = _login(browser, server, "tina", PASSWORDS["tina"])
    tina.get_by_role("button", name="Halt trading").wait_for(timeout=30_000)
    vic = _login(browser, server, "vic", PASSWORDS["vic"])
    vic.get_by_text("vic (viewer)").wait_for(timeout=30_000)
    old_cookie = _cookie_header(tina)
    assert _websocket_status(server, old_cookie) == 101, "the session works before"
    # Answer the page's way to the login form with "204 No Content": the browser stays on the old
    # page (and its websocket), so a click on its kill switch is an action sent from the ended session.
    asked: list[str] = []

    def no_content(route: object) -> None:
        asked.append(route.request.url)  # type: ignore[attr-defined]
        route.fulfill(status=204)  # type: ignore[attr-defined]

    tina.route("**/login*", no_content)
    with Ledger() as ledger:
        set_disabled(ledger, "tina", True, actor="alice")
    _wait_for(tina, lambda: bool(asked), "the ended page to ask for the login form")
    tina.get_by_role("button", name="Halt trading").click()
    _wait_for(tina, lambda: any(e.payload.get("refused") == "action" for e in _ended_entries()), "the audit")
    with Ledger() as ledger:
        assert not any(s.state == "HALTED" for s in ledger.trading_states()), "the old session's halt is refused"
    tina.unroute("**/login*")
    tina.reload()
    tina.locator("input[name=username]").wait_for(timeout=30_000)  # the old cookie gets the login form
    assert _websocket_status(server, old_cookie) in (401, 403), "the old cookie opens no websocket"
    _wait_for(vic, lambda: any(e.payload.get("refused") == "websocket" for e in _ended_entries()), "the audit")
    assert {e.actor for e in _ended_entries()} == {"tina"}
    vic.get_by_text("vic (viewer)").wait_for(timeout=5_000)  # another user's page is untouched
    assert vic.locator("input[name=username]").count() == 0
    relogin = _login(browser, server, "tina", PASSWORDS["tina"])
    assert "/login" in relogin.url, "a disabled user cannot log in again"


@pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")
def test_a_password_change_ends_the_old_session(server: str, browser: object) -> None:
    vic = _login(browser, server, "vic", PASSWORDS["vic"], "overview")
    vic.get_by_text("vic (viewer)").wait_for(timeout=30_000)
    old_cookie = _cookie_header(vic)
    with Ledger() as ledger:
        set_password(ledger, "vic", "vic-new-passphrase", actor="vic")
    vic.locator("input[name=username]").wait_for(timeout=30_000)
    assert _websocket_status(server, old_cookie) in (401, 403)
    fresh = _login(browser, server, "vic", "vic-new-passphrase", "overview")
    fresh.get_by_text("vic (viewer)").wait_for(timeout=30_000)  # the new password starts a new session
