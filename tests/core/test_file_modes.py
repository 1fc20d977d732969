"""Owner-only modes for everything the platform keeps at rest (issue 23), whatever the umask.

The ledger (password hashes, encrypted keys) and its -wal/-shm, the master key, the dashboard
cookie secret and reports/ are created 0600 (files) / 0700 (folders) even under umask 0000; an
existing ledger with looser modes gets one warning line with the chmod that fixes it.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.core.secrets import SecretBox
from quantdesk.core.settings import get_settings
from quantdesk.ledger import Ledger

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0000: anything created without an explicit mode would be world-readable (0666/0777)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _use_everything(home: Path) -> None:
    """Create each file the desk keeps: the ledger (with a write, so -wal and -shm exist), the master
    key, the cookie secret, reports/ and a report written in it."""
    from quantdesk.identity import add_user

    with Ledger() as ledger:
        add_user(ledger, "ada", "admin", actor="ada", password="ada-passphrase-long")
        SecretBox.from_home(home).encrypt("a channel secret")
        sys.path.insert(0, str(DASHBOARDS))
        try:
            from _auth import cookie_secret
        finally:
            sys.path.remove(str(DASHBOARDS))
        assert cookie_secret(home)
        reports = get_settings().reports_dir
        (reports / "desk").mkdir(parents=True, exist_ok=True)
        # -wal and -shm live while the ledger is open (the last close checkpoints and removes them)
        for name in ("quantdesk.db-wal", "quantdesk.db-shm"):
            assert mode(home / name) == 0o600, f"{name} is {mode(home / name):o}"


def test_every_file_the_platform_creates_is_owner_only(quantdesk_home: Path, permissive_umask: None) -> None:
    probe = quantdesk_home / "probe"
    probe.touch()
    assert mode(probe) == 0o666  # the umask really is permissive
    probe.unlink()
    _use_everything(quantdesk_home)
    for name in ("quantdesk.db", "master.key", "dashboard.cookie"):
        assert mode(quantdesk_home / name) == 0o600, f"{name} is {mode(quantdesk_home / name):o}"
    assert mode(quantdesk_home / "reports") == 0o700


def test_a_fresh_home_is_created_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            permissive_umask: None) -> None:
    home = tmp_path / "new" / "qd_home"
    monkeypatch.setenv("QUANTDESK_HOME", str(home))
    monkeypatch.setenv("QUANTDESK_CONFIG", str(home / "quantdesk.toml"))
    monkeypatch.delenv("QUANTDESK_DB_URL", raising=False)
    with Ledger():
        pass
    assert mode(home) == 0o700 and mode(home / "quantdesk.db") == 0o600


def test_a_loose_existing_ledger_warns_once_with_the_chmod(quantdesk_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Ledger():
        pass
    db = quantdesk_home / "quantdesk.db"
    db.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="quantdesk.security"):
        for _ in range(2):
            with Ledger():
                pass
    lines = [r.getMessage() for r in caplog.records if r.name == "quantdesk.security"]
    assert len(lines) == 1, lines
    assert f"chmod 600 {db}" in lines[0] and "644" in lines[0] and "\n" not in lines[0]
    assert mode(db) == 0o644  # an existing file's mode is the operator's: warned about, not changed
