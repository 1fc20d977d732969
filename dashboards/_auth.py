"""Logins and sessions for the dashboards: Panel's basic login form, the ledger's users behind it.

A login goes through `quantdesk.identity.login` (argon2id, throttled per name and per client
address in the ledger, audited) in a small thread pool, so a flood of guesses never blocks the
event loop that keeps every open page current. A session is two signed cookies: Panel's `user`
and `qd_session` (name, role and the user's `auth_epoch` at login). The session is checked
against the ledger

- on every page load and websocket handshake (`LedgerAuthProvider.get_user`),
- whenever the ledger changes (`watch_session`, on the pages' one change watcher): a session
  whose user was disabled, removed, given another role or a new password is sent to the login
  form,
- and on every message the browser sends (`_guarded_patch`): an action from an ended session is
  refused and audited (`auth.session_ended`), even one forged before the page went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import tornado.escape
from bokeh.document import Document
from bokeh.server.session import ServerSession
from panel.auth import BasicAuthProvider, BasicLoginHandler, _validate_next_url
from panel.config import config
from panel.io.state import state
from tornado.web import decode_signed_value
from tornado.websocket import WebSocketHandler

from quantdesk.core.errors import AuthenticationError
from quantdesk.core.secrets import write_key_file
from quantdesk.metrics import record_login

__all__ = ["LedgerAuthProvider", "SessionId", "cookie_secret", "ended_sessions", "watch_session"]

FAILED_LOGIN_DELAY_S = 1.0
SESSION_COOKIE = "qd_session"
LOGIN_THREAD_NICE = 10


def _lower_priority() -> None:
    """Run this pool thread below the event loop's priority (Linux sets niceness per thread)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOGIN_THREAD_NICE)


# Logins (argon2, ledger writes) and refusal audits run here, never on the event loop. One thread,
# niced: argon2 releases the GIL but takes a core for ~0.1-0.3 s, so a flood of guesses queues
# here and leaves the other core, and the first claim on CPU, to the loop that keeps pages current.
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qd-login", initializer=_lower_priority)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionId:
    """Who a session logged in as: the name, their role and the user's auth epoch at the time."""

    user: str
    role: str
    epoch: int


_sessions: weakref.WeakKeyDictionary[Document, SessionId] = weakref.WeakKeyDictionary()  # open page -> login
_ended: weakref.WeakSet[Document] = weakref.WeakSet()  # pages whose session has ended


def cookie_secret(home: Path) -> str:
    """Return this installation's cookie secret, created with mode 0600 on first use (never a built-in default)."""
    path = home / "dashboard.cookie"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it first
            write_key_file(path, secrets.token_urlsafe(48).encode())
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; run `chmod 600 {path}`")
    return path.read_text().strip()


def _decode(name: str, value: str | None) -> str | None:
    if not value or config.cookie_secret is None:
        return None
    decoded = decode_signed_value(config.cookie_secret, name, value, max_age_days=config.oauth_expiry)
    return None if decoded is None else decoded.decode("utf-8")


def session_id(cookies: dict[str, Any]) -> SessionId | None:
    """Return the signed session in `cookies` (values or Morsels), or None when absent or forged."""

    def value(name: str) -> str | None:
        found = cookies.get(name)
        return getattr(found, "value", found)

    user = _decode("user", value("user"))
    raw = _decode(SESSION_COOKIE, value(SESSION_COOKIE))
    if user is None or raw is None:
        return None
    try:
        data = json.loads(raw)
        found = SessionId(user=str(data["user"]), role=str(data["role"]), epoch=int(data["epoch"]))
    except (ValueError, KeyError, TypeError):
        return None
    return found if found.user == user else None


def _still_valid(found: SessionId) -> bool:
    """Return True while the session's user exists, is enabled, has its role and its password (one read)."""
    from quantdesk.desk import shared_ledger
    from quantdesk.identity import session_user

    return session_user(shared_ledger(), found.user, role=found.role, auth_epoch=found.epoch) is not None


def _audit_in_pool(actor: str, action: str, payload: dict[str, Any]) -> None:
    """Write an audit entry from the pool: the event loop never waits for a ledger write."""
    from quantdesk.desk import shared_ledger

    def write() -> None:
        shared_ledger().audit(actor, action, payload)

    future = _POOL.submit(write)
    future.add_done_callback(lambda f: f.exception())  # a failed write is logged by the ledger, not raised here


# -- logging in -----------------------------------------------------------------------------------
async def attempt_login(typed: str, password: str, *, address: str | None) -> Any:
    """Check a login in the pool (throttled, audited) and count its outcome; AuthenticationError if refused."""
    from quantdesk.desk import shared_ledger
    from quantdesk.identity import login

    attempt = partial(login, shared_ledger(), typed, password, address=address, via="dashboard")
    try:
        user = await asyncio.get_running_loop().run_in_executor(_POOL, attempt)
    except AuthenticationError:
        record_login(accepted=False)
        raise
    record_login(accepted=True)
    return user


class LedgerLoginHandler(BasicLoginHandler):
    """The login form, validated against the ledger's users (throttled; off the event loop)."""

    async def post(self) -> None:
        """Log in, or answer a refused login after a delay (without stalling other sessions)."""
        from quantdesk.identity import LockedOutError

        typed = self.get_argument("username", "")
        password = self.get_argument("password", "")
        try:
            user = await attempt_login(typed, password, address=self.request.remote_ip)
        except AuthenticationError as e:
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # the server's event loop keeps serving others
            message = str(e) if isinstance(e, LockedOutError) else "Invalid username or password!"
            self.redirect(self.request.uri.split("?")[0] + "?error=" + tornado.escape.url_escape(message))
            return
        self.set_current_user(user.name)
        session = json.dumps({"user": user.name, "role": user.role.value, "epoch": user.auth_epoch})
        self.set_secure_cookie(SESSION_COOKIE, session, expires_days=config.oauth_expiry, httponly=True,
                               path=config.cookie_path)
        self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)) or "/")


class LedgerAuthProvider(BasicAuthProvider):
    """Panel's basic auth provider with the ledger's users behind the form, and sessions re-checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _install_patch_guard()

    @property
    def login_handler(self) -> type[BasicLoginHandler]:
        LedgerLoginHandler._login_endpoint = self._login_endpoint
        LedgerLoginHandler._login_template = self._login_template
        return LedgerLoginHandler

    @property
    def get_user(self):  # type: ignore[no-untyped-def]  # Panel's signature: a function of the request handler
        panel_get_user = super().get_user

        def get_user(handler: Any) -> str | None:
            """Return the session's user for a page load or websocket, or None (to the login form) if it ended."""
            found = session_id(handler.request.cookies)
            if found is None or not _still_valid(found):
                if found is not None and isinstance(handler, WebSocketHandler):
                    # a page of an ended session tries to reconnect: its actions are refused
                    _audit_in_pool(found.user, "auth.session_ended",
                                   {"user": found.user, "via": "dashboard", "refused": "websocket"})
                return None
            return panel_get_user(handler)

        return get_user


# -- open pages -----------------------------------------------------------------------------------
def watch_session(doc: Document, found: SessionId) -> None:
    """Send this page to the login form as soon as its session ends (checked on every ledger change)."""
    from _live import keep_current

    from quantdesk.desk import desk_feed

    _sessions[doc] = found
    feed = desk_feed()

    def read() -> Any:
        # once per ledger change for every open page of this login, not once per page
        return feed.get(("session", found), feed.ledger_version(), lambda: _still_valid(found))

    def draw(valid: bool) -> None:
        if not valid:
            _end(doc, found)

    keep_current(read, draw)


def _end(doc: Document, found: SessionId) -> None:
    if doc in _ended:
        return
    _ended.add(doc)
    location = state.location  # this session's (under its document): the browser follows it
    if location is not None:
        location.param.update(pathname="/login", search="", hash="")
        location.reload = True  # navigates the browser to /login: the login form


def ended_sessions() -> int:
    """Return how many open pages have had their session ended (for the benchmark and tests)."""
    return len(_ended)


def _install_patch_guard() -> None:
    """Refuse (and audit) every message from a page whose session has ended, re-checked per message."""
    if getattr(ServerSession.patch, "_quantdesk_guard", False):
        return
    original = ServerSession.patch.__func__  # type: ignore[attr-defined]

    async def refused(message: Any, connection: Any, found: SessionId) -> Any:
        _audit_in_pool(found.user, "auth.session_ended", {"user": found.user, "via": "dashboard", "refused": "action"})
        return connection.error(message, "your session has ended: log in again")

    def guarded(cls: type[ServerSession], message: Any, connection: Any) -> Any:
        doc = connection.session.document
        found = _sessions.get(doc)
        if found is not None:
            valid = doc not in _ended and _cached_validity(found)
            if not valid:
                _ended.add(doc)
                return refused(message, connection, found)
        return original(cls, message, connection)

    guarded._quantdesk_guard = True  # type: ignore[attr-defined]
    ServerSession.patch = classmethod(guarded)  # type: ignore[method-assign,assignment]


def _cached_validity(found: SessionId) -> bool:
    """Return the session's validity at the ledger's current change marker (one read per change)."""
    from quantdesk.desk import desk_feed

    feed = desk_feed()
    return bool(feed.get(("session", found), feed.ledger_version(), lambda: _still_valid(found)).value)
