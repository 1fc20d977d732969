"""The master key and SecretBox: 0600 key file, env override, rotation, no plain text in reprs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from quantdesk.core.errors import ConfigError
from quantdesk.core.secrets import MASTER_KEY_ENV, SecretBox, master_key_path

CANARY = "canary-secret-5f1d7c"


def test_key_file_is_created_0600_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    box = SecretBox.from_home(tmp_path)
    path = master_key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.encrypt(CANARY)
    assert CANARY not in token
    assert SecretBox.from_home(tmp_path).decrypt(token).reveal() == CANARY


def test_env_key_wins_and_wrong_key_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, Fernet.generate_key().decode())
    token = SecretBox.from_home(tmp_path).encrypt(CANARY)
    assert not master_key_path(tmp_path).exists()
    monkeypatch.setenv(MASTER_KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(ConfigError, match="cannot be decrypted.*QUANTDESK_MASTER_KEY"):
        SecretBox.from_home(tmp_path).decrypt(token)
    monkeypatch.setenv(MASTER_KEY_ENV, "not-a-key")
    with pytest.raises(ConfigError, match="not a Fernet key"):
        SecretBox.from_home(tmp_path)


def test_group_readable_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    SecretBox.from_home(tmp_path)
    os.chmod(master_key_path(tmp_path), 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        SecretBox.from_home(tmp_path)


def test_rotation_re_encrypts_under_the_new_key() -> None:
    old = SecretBox([Fernet.generate_key()])
    token = old.encrypt(CANARY)
    rotated = old.with_new_key()
    new_token = rotated.rotate(token)
    assert rotated.decrypt(new_token).reveal() == CANARY
    with pytest.raises(ConfigError):
        old.decrypt(new_token)


def test_reprs_never_show_the_secret() -> None:
    box = SecretBox([Fernet.generate_key()])
    secret = box.decrypt(box.encrypt(CANARY))
    assert CANARY not in repr(secret) and CANARY not in str(secret) and CANARY not in f"{secret}"
    assert "key_fingerprint" in repr(box)
