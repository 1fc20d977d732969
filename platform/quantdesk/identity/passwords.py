"""Password hashing with argon2id (argon2-cffi): the ledger stores hashes, never passwords."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from quantdesk.core.errors import IdentityError

__all__ = ["MIN_PASSWORD_LENGTH", "check_password_policy", "hash_password", "needs_rehash", "verify_password"]

MIN_PASSWORD_LENGTH = 8
# argon2-cffi's RFC 9106 "low memory" profile: ~50 ms per check here, which also slows guessing.
_HASHER = PasswordHasher()


def check_password_policy(password: str) -> None:
    """Raise IdentityError naming the rule when `password` is too weak to store."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IdentityError(
            f"the password is too short ({len(password)} characters): use at least {MIN_PASSWORD_LENGTH}"
        )
    if password.strip() != password:
        raise IdentityError("the password starts or ends with whitespace: remove it (a pasted newline?)")


def hash_password(password: str) -> str:
    """Return the argon2id hash of `password` (checked against the policy first)."""
    check_password_policy(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Return True when `password` matches `stored_hash`; False for a mismatch or no/garbled hash."""
    if not stored_hash:
        # Spend the same time as a real check, so a missing password cannot be told apart by timing.
        _HASHER.hash(password or "x")
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Return True when `stored_hash` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
