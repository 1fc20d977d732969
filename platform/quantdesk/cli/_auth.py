"""Who is acting, and the proof: passwords for `--as` and for the actions that need two real people.

Your default identity is QUANTDESK_USER, else your OS login. Acting as anyone else (`--as`)
needs that user's password, and so do the actions the four-eyes rule and the venue guard:
promoting to live, approving or rejecting it, user administration and orders sent to a venue.
The password comes from a prompt, or from stdin with `--password-stdin` (first line: the
acting user's password). A refused password is audited and answered slowly.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from quantdesk.core.errors import AuthenticationError

if TYPE_CHECKING:  # the ledger (SQLAlchemy) loads when a command runs, not with --help
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

__all__ = ["FAILED_LOGIN_DELAY_S", "ActAsOption", "PasswordStdinOption", "acting_user", "authorized_actor", "default_identity",
           "read_secret_line"]

# Each refused password costs this long: guessing from a script becomes slow. Override only in tests.
FAILED_LOGIN_DELAY_S = float(os.environ.get("QUANTDESK_FAILED_LOGIN_DELAY_S", "1.0"))

ActAsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (needs their password; default: QUANTDESK_USER, else the OS login)."),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the acting user's password from the first line of stdin (for scripts)."),
]


def default_identity() -> str:
    """Return who you are without `--as`: QUANTDESK_USER, else the OS login."""
    from quantdesk.identity import resolve_actor

    return resolve_actor(None)


def read_secret_line(prompt: str, *, from_stdin: bool, confirm: bool = False) -> str:
    """Return one secret: the next stdin line with `from_stdin`, else a hidden prompt on a terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AuthenticationError(f"{prompt}: stdin ended before it; pipe one line per secret")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AuthenticationError(f"{prompt}: no terminal to ask on; pipe it with --password-stdin")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def acting_user(ledger: Ledger, explicit: str | None, *, password_stdin: bool = False, always: bool = False) -> str:
    """Return the acting user's name, proven by password when acting as someone else or when `always`.

    Raise AuthenticationError (exit code 3) when the password is missing or refused; the
    refusal is audited, delayed and counted against the same lockout budget as dashboard logins
    (`quantdesk.identity.logins`), and a disabled user is refused like a wrong password.
    """
    from quantdesk.identity import get_user, login, lookup_user
    from quantdesk.identity.logins import audit_name

    default = default_identity()
    who = explicit or default
    if not always and who == default:
        found = lookup_user(ledger, who)
        if found is not None and found.disabled:  # registered but disabled: refused before anything else
            from quantdesk.identity import active_user

            active_user(ledger, who)  # raises PermissionDeniedError naming how to re-enable
        return who
    user = get_user(ledger, who)  # a clear error for an unknown name
    if not user.has_password:
        raise AuthenticationError(
            f"user {who!r} has no password yet, so nobody can prove to be them: "
            f"set one with `quantdesk user passwd {who}`"
        )
    password = read_secret_line(f"password for {who}", from_stdin=password_stdin)
    try:
        login(ledger, who, password, address=None, via="cli", actor=audit_name(ledger, default))
    except AuthenticationError:
        time.sleep(FAILED_LOGIN_DELAY_S)
        raise
    return who


def authorized_actor(ledger: Ledger, explicit: str | None, action: Action, *, password_stdin: bool = False) -> str:
    """Return who acts (`--as`, else the default identity) once the policy lets them take `action`.

    The one gate of every acting command: the identity must be a registered, active user whose
    role the policy names for `action` (else PermissionDeniedError, exit code 4, audited), and it
    proves itself by password when acting as someone else or when the action's rule asks for proof.
    The role is asked first, so nobody types a password for an action they could never take.
    """
    from quantdesk.identity.policy import POLICY, authorize

    authorize(ledger, explicit or default_identity(), action, via="cli")
    return acting_user(ledger, explicit, password_stdin=password_stdin, always=POLICY[action].proof)
