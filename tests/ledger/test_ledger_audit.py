"""The audit log: appends are chained; edits, deletions and reorders are detected by verify."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from quantdesk.core.errors import LedgerError
from quantdesk.core.types import TradingState
from quantdesk.ledger import Ledger
from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.audit import GENESIS_HASH, _canonical_entry_hash, entry_hash


def _fill_log(ledger: Ledger, n: int = 5) -> None:
    for i in range(n):
        ledger.audit("operator", f"action.{i}", {"i": i, "amount": Decimal("1.10"), "nested": {"b": 1, "a": [1, 2]}})


def _drop_triggers(ledger: Ledger) -> None:
    """Do what an attacker with database access would: remove the append-only guard."""
    with ledger.engine.begin() as c:
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            if ledger.dialect == "postgresql":
                c.execute(text(f"DROP TRIGGER IF EXISTS {name} ON audit_log"))
            else:
                c.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def _tamper(ledger: Ledger, *statements: str) -> None:
    _drop_triggers(ledger)
    with ledger.engine.begin() as c:
        for statement in statements:
            c.exec_driver_sql(statement)


def test_appends_are_chained(ledger: Ledger) -> None:
    _fill_log(ledger)
    entries = ledger.audit_log()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[0].payload == {"i": 0, "amount": "1.10", "nested": {"a": [1, 2], "b": 1}}
    result = ledger.verify_audit()
    assert result.ok and result.checked == 5 and result.head_hash == entries[-1].hash
    assert [e.seq for e in ledger.audit_log(limit=2)] == [4, 5]
    assert [e.action for e in ledger.audit_log(action="action.1")] == ["action.1"]


def test_an_empty_log_verifies(ledger: Ledger) -> None:
    assert ledger.verify_audit().ok and ledger.verify_audit().checked == 0


def test_update_and_delete_are_refused_by_the_database(ledger: Ledger) -> None:
    _fill_log(ledger, 2)
    with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    assert ledger.verify_audit().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET payload = '{\"i\":99}' WHERE seq = 3",
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3",
        "UPDATE audit_log SET action = 'nothing' WHERE seq = 3",
        "UPDATE audit_log SET payload = 'not json' WHERE seq = 3",
    ],
)
def test_an_edit_is_detected_at_its_seq(ledger: Ledger, statement: str) -> None:
    _fill_log(ledger)
    _tamper(ledger, statement)
    result = ledger.verify_audit()
    assert not result.ok and result.first_bad_seq == 3 and result.checked == 2
    assert "edited" in (result.reason or "")


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(ledger: Ledger) -> None:
    _fill_log(ledger)
    # even a forger who rewrites the hash of entry 3 leaves entry 4 pointing at the old one
    _tamper(ledger, "UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE seq = 3")
    result = ledger.verify_audit()
    assert not result.ok and result.first_bad_seq == 3


def test_a_deletion_is_detected(ledger: Ledger) -> None:
    _fill_log(ledger)
    _tamper(ledger, "DELETE FROM audit_log WHERE seq = 3")
    result = ledger.verify_audit()
    assert not result.ok and result.first_bad_seq == 3 and "deleted" in (result.reason or "")


def test_a_deletion_renumbered_to_hide_the_gap_is_detected(ledger: Ledger) -> None:
    _fill_log(ledger)
    _tamper(
        ledger,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 5",
    )
    result = ledger.verify_audit()
    assert not result.ok and result.first_bad_seq == 3


def test_a_reorder_is_detected(ledger: Ledger) -> None:
    _fill_log(ledger)
    _tamper(
        ledger,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = -1",
    )
    result = ledger.verify_audit()
    assert not result.ok and result.first_bad_seq == 2


def test_appending_after_verification_keeps_the_chain(ledger: Ledger) -> None:
    _fill_log(ledger, 2)
    entry = ledger.audit("system", "after", None)
    assert entry.seq == 3 and entry.payload == {}
    assert ledger.verify_audit().checked == 3
    with pytest.raises(LedgerError, match="actor and an action"):
        ledger.audit("", "x")


def test_trading_state_changes_are_stored_and_audited(ledger: Ledger) -> None:
    assert ledger.get_trading_state() is TradingState.ACTIVE
    assert ledger.trading_state("deployment:d1").updated_at is None
    record = ledger.set_trading_state("global", "HALTED", "manual halt", "alice")
    assert record.state is TradingState.HALTED and record.actor == "alice"
    ledger.set_trading_state("deployment:d1", TradingState.REDUCING, "daily loss", "risk")
    ledger.set_trading_state("global", TradingState.ACTIVE, "resume", "bob")
    assert ledger.get_trading_state("global") is TradingState.ACTIVE
    assert ledger.get_trading_state("deployment:d1") is TradingState.REDUCING
    assert [s.scope for s in ledger.trading_states()] == ["deployment:d1", "global"]
    entries = ledger.audit_log(action="trading_state.set")
    assert [(e.actor, e.payload["state"], e.payload["previous"]) for e in entries] == [
        ("alice", "HALTED", "ACTIVE"),
        ("risk", "REDUCING", "ACTIVE"),
        ("bob", "ACTIVE", "HALTED"),
    ]
    assert ledger.verify_audit().ok
    with pytest.raises(LedgerError, match="invalid trading state"):
        ledger.set_trading_state("global", "PAUSED", "x", "bob")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), _json, max_size=6), actor=st.text(min_size=1),
       action=st.text(min_size=1), seq=st.integers(1, 2**40), prev=st.text(alphabet="0123456789abcdef", min_size=64,
                                                                           max_size=64),
       ts=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_an_appended_entry_hashes_as_verification_recomputes_it(
    payload: dict[str, object], actor: str, action: str, seq: int, prev: str, ts: datetime
) -> None:
    """The append builds the hashed body around the canonical payload; verification parses and re-serialises."""
    payload_json = canonical_json(payload)
    fields = dict(seq=seq, ts=ts, actor=actor, action=action, payload_json=payload_json, prev_hash=prev)
    assert _canonical_entry_hash(**fields) == entry_hash(**fields)
