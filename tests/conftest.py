"""Shared fixtures: an isolated QUANTDESK_HOME per test and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("QUANTDESK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def quantdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point QUANTDESK_HOME at a fresh folder so no test touches the repo's data/."""
    home = tmp_path / "qd_home"
    home.mkdir()
    monkeypatch.setenv("QUANTDESK_HOME", str(home))
    monkeypatch.setenv("QUANTDESK_CONFIG", str(home / "quantdesk.toml"))
    monkeypatch.delenv("QUANTDESK_DB_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data, or skip the test with the reason where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (clone ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture
def operator(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register `ops` as the desk's admin (no password) and make it the acting identity (QUANTDESK_USER).

    Every acting command asks the policy (issue 23): a test that halts, exports or trades from the
    CLI acts as a registered user, never as whoever runs the tests.
    """
    from quantdesk.identity import add_user
    from quantdesk.ledger import Ledger

    monkeypatch.setenv("QUANTDESK_USER", "ops")
    with Ledger() as ledger:
        add_user(ledger, "ops", "admin", actor="ops")
    return "ops"
