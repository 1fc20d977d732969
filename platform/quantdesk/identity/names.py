"""What a user name may be (below users and logins, which both check it)."""

from __future__ import annotations

import unicodedata

from quantdesk.core.errors import IdentityError

__all__ = ["MAX_USERNAME_LENGTH", "UNKNOWN_USER", "validate_username"]

MAX_USERNAME_LENGTH = 128
UNKNOWN_USER = "unknown user"  # what the audit log and notifications say for a name nobody registered


def validate_username(name: str) -> str:
    """Return `name` if it may be stored or sent: 1-128 characters, none of them a control character.

    Raise IdentityError otherwise; the message never repeats the name (it may be a secret).
    """
    if not name or len(name) > MAX_USERNAME_LENGTH:
        raise IdentityError(f"a user name has 1 to {MAX_USERNAME_LENGTH} characters (got {len(name)})")
    # Cc: control characters (newlines, escapes); Cf: invisible format characters; Zl/Zp: line breaks
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise IdentityError("a user name may not contain control characters")
    return name
