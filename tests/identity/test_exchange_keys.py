"""Exchange keys at rest: encrypted in the ledger, shown as fingerprints, decrypted only to trade (issue 11)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import ConfigError
from quantdesk.core.secrets import NEXT_KEY_FILE
from quantdesk.identity import add_user
from quantdesk.identity.keys import exchange_credentials, rotate_master_key
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue

runner = CliRunner()
CANARY_KEY = "canary-key-7f3a9c0b1d2e"
CANARY_SECRET = "canary-secret-5e8d2a4f6b1c"
ADMIN_PW = "olga-passphrase"


@pytest.fixture
def admin(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANTDESK_USER", "olga")
    monkeypatch.delenv("QUANTDESK_MASTER_KEY", raising=False)
    with Ledger() as ledger:
        add_user(ledger, "olga", "admin", actor="olga", password=ADMIN_PW)
    return quantdesk_home


def _set_keys(venue: str) -> object:
    return runner.invoke(app, ["keys", "set", venue, "--stdin", "--json"],
                         input=f"{ADMIN_PW}\n{CANARY_KEY}\n{CANARY_SECRET}\n")


def test_keys_are_stored_encrypted_and_listed_by_fingerprint(admin: Path) -> None:
    stored = _set_keys("sim")
    assert stored.exit_code == 0, stored.output
    listed = runner.invoke(app, ["keys", "list", "--json"])
    table = runner.invoke(app, ["keys", "list"])
    [info] = json.loads(listed.stdout)
    assert (info["venue"], info["account"], info["set_by"]) == ("sim", "default", "olga")
    assert info["key_fingerprint"] and info["key_fingerprint"] in table.stdout
    with Ledger() as ledger:
        audit = json.dumps([e.payload for e in ledger.audit_log()])
        key, secret = exchange_credentials(ledger, "sim")
    assert (key.reveal(), secret.reveal()) == (CANARY_KEY, CANARY_SECRET)
    assert CANARY_KEY not in repr(key) and CANARY_SECRET not in str(secret)
    everything = stored.output + listed.output + table.output + audit + (admin / "quantdesk.db").read_bytes().decode("latin-1")
    for canary in (CANARY_KEY, CANARY_SECRET):
        assert canary not in everything, "a key leaked into output, the audit log or the database file"


def test_a_venue_without_key_env_trades_with_its_stored_keys(admin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ts = [start + timedelta(minutes=i) for i in range(120)]
    frame = pl.DataFrame({"ts": ts, "open": [100.0] * 120, "high": [101.0] * 120, "low": [99.0] * 120,
                          "close": [100.0] * 120, "volume": [10.0] * 120}).with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start + timedelta(minutes=60)),
                        api_key=CANARY_KEY, api_secret=CANARY_SECRET) as venue:
        (admin / "quantdesk.toml").write_text(f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\n')
        assert _set_keys("sim").exit_code == 0
        order = runner.invoke(app, ["order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.1",
                                    "--password-stdin", "--json"], input=ADMIN_PW + "\n")
        assert order.exit_code == 0, order.output
        assert json.loads(order.stdout)["status"] == "filled", "the venue accepted the decrypted, signed request"
        for canary in (CANARY_KEY, CANARY_SECRET):
            assert canary not in order.output


def test_rotating_the_master_key_loses_nothing_even_when_interrupted(admin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _set_keys("sim").exit_code == 0
    old_master = (admin / "master.key").read_bytes()
    with Ledger() as ledger:
        real_replace = os.replace

        def crash(*args: object) -> None:
            raise OSError("power cut between the re-encryption and the rename")

        monkeypatch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="power cut"):
            rotate_master_key(ledger, actor="olga")
        assert (admin / NEXT_KEY_FILE).exists() and (admin / "master.key").read_bytes() == old_master
        key, _ = exchange_credentials(ledger, "sim")  # tokens are under the new key: still readable
        assert key.reveal() == CANARY_KEY
        monkeypatch.setattr(os, "replace", real_replace)
        rotate_master_key(ledger, actor="olga")  # finishes the interrupted rotation
        assert not (admin / NEXT_KEY_FILE).exists() and (admin / "master.key").read_bytes() != old_master
        assert exchange_credentials(ledger, "sim")[1].reveal() == CANARY_SECRET
        assert oct((admin / "master.key").stat().st_mode & 0o777) == "0o600"
    (admin / "master.key").write_bytes(old_master)  # the wrong key: a clear error, not garbage
    with Ledger() as ledger, pytest.raises(ConfigError, match="cannot be decrypted"):
        exchange_credentials(ledger, "sim")


def test_keys_set_needs_the_users_password(admin: Path) -> None:
    refused = runner.invoke(app, ["keys", "set", "sim", "--stdin"], input=f"not-the-password\n{CANARY_KEY}\n{CANARY_SECRET}\n")
    assert refused.exit_code == 3
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout) == []
