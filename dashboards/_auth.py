"""Logins for the dashboards: Panel's basic login form, checked against the ledger's users.

Panel's `BasicLoginHandler` posts `username` and `password`; `_validate` here asks
`quantdesk.identity.authenticate` (argon2id hashes in the ledger). A refused login is audited
and answered after a delay; the session cookie is signed with a per-installation secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

import tornado.escape
from panel.auth import BasicAuthProvider, BasicLoginHandler, _validate_next_url
from panel.io.state import state

from quantdesk.core.errors import AuthenticationError
from quantdesk.core.secrets import write_key_file
from quantdesk.metrics import record_login

__all__ = ["LedgerAuthProvider", "cookie_secret"]

FAILED_LOGIN_DELAY_S = 1.0


def cookie_secret(home: Path) -> str:
    """Return this installation's cookie secret, created with mode 0600 on first use (never a built-in default)."""
    path = home / "dashboard.cookie"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it first
            write_key_file(path, secrets.token_urlsafe(48).encode())
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; run `chmod 600 {path}`")
    return path.read_text().strip()


class LedgerLoginHandler(BasicLoginHandler):
    """The login form, validated against the ledger's users."""

    def _validate(self, username: str, password: str) -> bool:
        from quantdesk.desk import shared_ledger
        from quantdesk.identity import authenticate

        ledger = shared_ledger()  # one handle for the server process (quantdesk.desk.shared)
        try:
            authenticate(ledger, username, password)
            record_login(accepted=True)
            return True
        except AuthenticationError:
            ledger.audit("dashboard", "auth.failed", {"user": username, "via": "dashboard"})
            record_login(accepted=False)
        return False

    async def post(self) -> None:
        """Log in, or answer a refused login only after a delay (without stalling other sessions)."""
        if not self._validate(self.get_argument("username", ""), self.get_argument("password", "")):
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # the server's event loop keeps serving others
            self.redirect(self.request.uri + "?error=" + tornado.escape.url_escape("Invalid username or password!"))
            return
        self.set_current_user(self.get_argument("username", ""))
        self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)) or "/")


class LedgerAuthProvider(BasicAuthProvider):
    """Panel's basic auth provider with the ledger's users behind the form."""

    @property
    def login_handler(self) -> type[BasicLoginHandler]:
        LedgerLoginHandler._login_endpoint = self._login_endpoint
        LedgerLoginHandler._login_template = self._login_template
        return LedgerLoginHandler
