"""Secrets at rest: one Fernet master key encrypts exchange keys and channel secrets.

The master key comes from `QUANTDESK_MASTER_KEY` (a urlsafe-base64 Fernet key, e.g. from a
secrets manager), else from `$QUANTDESK_HOME/master.key`, created with mode 0600 on first
use. Ciphertexts are Fernet tokens (text). A `SecretBox` can also hold retired keys, so
tokens written before a rotation still decrypt until they are re-encrypted.

Plain values are never logged, and `repr()` of a box or a `Secret` never shows them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from quantdesk.core.errors import ConfigError
from quantdesk.core.fsmodes import private_dir

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE",
    "NEXT_KEY_FILE",
    "Secret",
    "SecretBox",
    "fingerprint",
    "master_key_path",
    "write_key_file",
]

MASTER_KEY_ENV = "QUANTDESK_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
# A rotation writes the new key here first and renames it over master.key last; while it
# exists it also decrypts, so a rotation interrupted at any step loses nothing.
NEXT_KEY_FILE = "master.key.next"


def fingerprint(value: str | bytes) -> str:
    """Return a short, non-reversible fingerprint (first 12 hex of sha256) to show instead of a secret."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Secret:
    """A decrypted secret whose repr and str never show the value; read it with `.reveal()`."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the plain value (only where it is used: the broker, the channel sender)."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return f"Secret(fingerprint={fingerprint(self._value)!r})"


def write_key_file(path: Path, key: bytes) -> None:
    """Write `key` to `path` with mode 0600, durably (fsync), replacing nothing: fails if it exists."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; fchmod is not
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())


def master_key_path(home: Path) -> Path:
    """Return where the installation's master key file lives."""
    return home / MASTER_KEY_FILE


def _check_key(raw: str | bytes, origin: str) -> bytes:
    key = raw.strip().encode() if isinstance(raw, str) else raw.strip()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(
            f"the master key from {origin} is not a Fernet key (32 url-safe base64 bytes); "
            "generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`"
        ) from None
    return key


def _load_or_create(path: Path) -> bytes:
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}` and retry"
            )
        return _check_key(path.read_bytes(), str(path))
    private_dir(path.parent)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _check_key(path.read_bytes(), str(path))
    os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; fchmod is not
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key


class SecretBox:
    """Encrypt and decrypt small secrets with the installation's master key (Fernet).

    `keys[0]` encrypts; every key in `keys` may decrypt (older keys after a rotation).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("a SecretBox needs at least one master key")
        self._keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])

    @classmethod
    def from_home(cls, home: Path) -> SecretBox:
        """Return the box for `QUANTDESK_MASTER_KEY`, else `home/master.key` (created 0600 on first use)."""
        env = os.environ.get(MASTER_KEY_ENV)
        if env:
            return cls([_check_key(env, MASTER_KEY_ENV)])
        keys = [_load_or_create(master_key_path(home))]
        staged = home / NEXT_KEY_FILE
        if staged.exists():  # an interrupted rotation: its tokens may be under either key
            keys.append(_check_key(staged.read_bytes(), str(staged)))
        return cls(keys)

    @classmethod
    def from_settings(cls) -> SecretBox:
        """Return the box for the current settings' home."""
        from quantdesk.core.settings import get_settings

        return cls.from_home(get_settings().home)

    @property
    def key_fingerprint(self) -> str:
        """Return the fingerprint of the key that encrypts (never the key)."""
        return fingerprint(self._keys[0])

    def encrypt(self, plain: str) -> str:
        """Return the Fernet token (text) for `plain`."""
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> Secret:
        """Return the secret inside `token`; ConfigError naming the fix if no key opens it."""
        try:
            return Secret(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise ConfigError(
                "a stored secret cannot be decrypted with this installation's master key "
                f"(key fingerprint {self.key_fingerprint}); set {MASTER_KEY_ENV} or restore "
                "master.key from the installation that wrote it, or store the secret again"
            ) from None

    def rotate(self, token: str) -> str:
        """Return `token` re-encrypted under the first key (after a master-key rotation)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                f"a stored secret cannot be re-encrypted: no key of this box opens it "
                f"(encrypting key fingerprint {self.key_fingerprint})"
            ) from None

    def with_new_key(self, new_key: bytes | None = None) -> SecretBox:
        """Return a box that encrypts with `new_key` (generated if None) and still opens old tokens."""
        key = _check_key(new_key, "the new key") if new_key else Fernet.generate_key()
        return SecretBox([key, *self._keys])

    def __repr__(self) -> str:
        return f"SecretBox(key_fingerprint={self.key_fingerprint!r}, keys={len(self._keys)})"
