"""`quantdesk db upgrade|status` and `quantdesk audit verify|log`, through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.ledger import Ledger, head_revision

runner = CliRunner()


def test_db_upgrade_and_status(quantdesk_home: Path) -> None:
    before = runner.invoke(app, ["db", "status", "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout) == {
        "url": f"sqlite:///{quantdesk_home / 'quantdesk.db'}",
        "revision": None,
        "head": head_revision(),
        "up_to_date": False,
    }
    result = runner.invoke(app, ["db", "upgrade", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["revision"] == head_revision()
    again = runner.invoke(app, ["db", "upgrade", "--json"])
    assert json.loads(again.stdout)["changed"] is False
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and "up to date" in status.stdout


def test_db_status_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_DB_URL", "postgresql://alice:canary-secret-123@127.0.0.1:1/none")
    result = runner.invoke(app, ["db", "status", "--json"])
    assert result.exit_code != 0
    assert "canary-secret-123" not in result.output


def test_audit_verify_and_log(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quantdesk.identity import add_user

    monkeypatch.setenv("QUANTDESK_USER", "ada")
    with Ledger() as ledger:
        add_user(ledger, "ada", "admin", actor="ada")  # reading the audit log is for admins (the policy)
        for i in range(3):
            ledger.audit("operator", "halt" if i == 1 else "note", {"i": i})
    ok = runner.invoke(app, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["checked"] == 4
    log = runner.invoke(app, ["audit", "log", "--limit", "2", "--json"])
    assert log.exit_code == 0
    assert [e["seq"] for e in json.loads(log.stdout)] == [3, 4]
    table = runner.invoke(app, ["audit", "log", "--action", "halt"])
    assert table.exit_code == 0 and "halt" in table.stdout


def test_audit_verify_fails_naming_the_first_bad_entry(quantdesk_home: Path) -> None:
    with Ledger() as ledger:
        for i in range(4):
            ledger.audit("operator", "note", {"i": i})
        with ledger.engine.begin() as c:
            c.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            c.exec_driver_sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "seq 2" in result.stderr
    as_json = runner.invoke(app, ["audit", "verify", "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["first_bad_seq"] == 2
