"""Exchange API keys at rest: encrypted with the installation's master key, decrypted only where used.

`set_exchange_key` stores a venue account's key and secret as Fernet tokens; `list_exchange_keys`
shows venue, account and a fingerprint only; `exchange_credentials` decrypts, for the broker's
process alone; `rotate_master_key` moves every token to a new master key so that an interrupted
rotation never loses a key (the new key file is written first and renamed over the old one last).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet

from quantdesk.core.errors import ConfigError, IdentityError
from quantdesk.core.secrets import (
    MASTER_KEY_ENV,
    NEXT_KEY_FILE,
    Secret,
    SecretBox,
    fingerprint,
    master_key_path,
    write_key_file,
)
from quantdesk.identity.policy import Action, authorize
from quantdesk.ledger import Ledger
from quantdesk.ledger.keys import (
    exchange_key_row,
    exchange_key_rows,
    put_exchange_key,
    reencrypt_exchange_keys,
)

__all__ = ["ExchangeKeyInfo", "exchange_credentials", "list_exchange_keys", "rotate_master_key", "set_exchange_key"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeKeyInfo:
    """What may be shown about a stored key: whose it is and a fingerprint, never the key."""

    venue: str
    account: str
    key_fingerprint: str
    set_by: str
    updated_at: datetime


def _home() -> Path:
    from quantdesk.core.settings import get_settings

    return get_settings().home


def set_exchange_key(
    ledger: Ledger, venue: str, api_key: str, api_secret: str, *, actor: str, account: str = "default",
    box: SecretBox | None = None,
) -> ExchangeKeyInfo:
    """Store `venue`/`account`'s API key and secret encrypted (an admin or trader); return what may be shown."""
    authorize(ledger, actor, Action.MANAGE_KEYS)
    if not api_key.strip() or not api_secret.strip():
        raise IdentityError("an exchange key and secret must both be non-empty; paste them again")
    box = box or SecretBox.from_home(_home())
    put_exchange_key(
        ledger, venue=venue, account=account, api_key=box.encrypt(api_key.strip()),
        api_secret=box.encrypt(api_secret.strip()), key_fingerprint=fingerprint(api_key.strip()), set_by=actor,
        audit=(actor, "keys.set", {"venue": venue, "account": account, "key_fingerprint": fingerprint(api_key.strip())}),
    )
    return next(k for k in list_exchange_keys(ledger) if (k.venue, k.account) == (venue, account))


def list_exchange_keys(ledger: Ledger) -> list[ExchangeKeyInfo]:
    """Return every stored key's venue, account and fingerprint."""
    return [ExchangeKeyInfo(venue=r["venue"], account=r["account"], key_fingerprint=r["key_fingerprint"],
                            set_by=r["set_by"], updated_at=r["updated_at"]) for r in exchange_key_rows(ledger)]


def exchange_credentials(
    ledger: Ledger, venue: str, account: str = "default", *, box: SecretBox | None = None
) -> tuple[Secret, Secret] | None:
    """Return the decrypted (key, secret) of `venue`/`account`, or None when none is stored."""
    row = exchange_key_row(ledger, venue, account)
    if row is None:
        return None
    box = box or SecretBox.from_home(_home())
    return box.decrypt(row["api_key"]), box.decrypt(row["api_secret"])


def rotate_master_key(ledger: Ledger, *, actor: str, home: Path | None = None, new_key: bytes | None = None) -> str:
    """Re-encrypt every stored key under a new master key; return the new key's fingerprint (admins only).

    With the key file: the new key goes to master.key.next (0600, fsynced), every token is
    re-encrypted in one transaction, then master.key.next is renamed over master.key. A crash
    at any point leaves every token readable (both files decrypt until the rename). With
    QUANTDESK_MASTER_KEY set, pass `new_key` (the key your secrets manager will hold next).
    """
    authorize(ledger, actor, Action.ROTATE_MASTER_KEY)
    home = home or _home()
    old = SecretBox.from_home(home)
    from_env = bool(os.environ.get(MASTER_KEY_ENV))
    if from_env and new_key is None:
        raise ConfigError(
            f"the master key comes from {MASTER_KEY_ENV}; give the new key with --new-key-stdin, "
            f"then store it where {MASTER_KEY_ENV} comes from"
        )
    key = new_key.strip() if new_key else Fernet.generate_key()
    staged = home / NEXT_KEY_FILE
    if not from_env:
        if staged.exists():
            key = staged.read_bytes().strip()  # finish the interrupted rotation with its key
        else:
            write_key_file(staged, key)
    box = old.with_new_key(key)
    reencrypt_exchange_keys(ledger, box.rotate, audit=(actor, "keys.rotate_master", {
        "new_key_fingerprint": fingerprint(key), "old_key_fingerprint": old.key_fingerprint}))
    if not from_env:
        os.replace(staged, master_key_path(home))  # atomic: the old key is gone only now
    return fingerprint(key)
