"""The SQLite ledger's direct path (`quantdesk.ledger.direct`) stores and returns what SQLAlchemy does.

The same random sequence of ledger calls runs on two SQLite ledgers, one with prebuilt
statements on the driver's cursor and one through SQLAlchemy's `Connection.execute` only:
every answer must be equal and every table byte for byte the same.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import LedgerError
from quantdesk.ledger import Ledger
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.direct import DirectConnection
from quantdesk.ledger.engine import write_tx
from quantdesk.ledger.fills import _INSERT_FILL
from quantdesk.ledger.schema import metadata

START = datetime(2024, 1, 1, tzinfo=UTC)

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.sampled_from(["BTC/USDT", "ETH/USDT"]), st.sampled_from(["buy", "sell"]),
                  amounts, amounts),
        st.tuples(st.just("answer"), st.integers(0, 20), st.sampled_from(["open", "filled", "canceled"])),
        st.tuples(st.just("fill"), st.integers(0, 20), st.integers(0, 5), amounts, amounts),
        st.tuples(st.just("audit"), st.text(max_size=12), st.integers(-10**12, 10**12)),
        st.tuples(st.just("positions"),),
    ),
    min_size=1, max_size=25,
)


def _apply(ledger: Ledger, clock: ManualClock, sequence: list[tuple[Any, ...]]) -> list[Any]:
    """Run the calls; return each answer (or the error's type and text)."""
    answers: list[Any] = []
    cids: list[str] = []
    for op in sequence:
        clock.advance(timedelta(milliseconds=1500))
        try:
            if op[0] == "order":
                _, symbol, side, qty, price = op
                cids.append(f"cid-{len(cids)}")
                answers.append(ledger.record_intents(
                    [dict(client_order_id=cids[-1], venue="paper", symbol=symbol, side=side, order_type="limit",
                          qty=qty, price=price, deployment="alpha", payload={"note": "x"})], sent_source="gate"))
            elif op[0] == "answer" and cids:
                _, k, status = op
                answers.append(ledger.record_answer(cids[k % len(cids)], status, venue_order_id=f"v{k % len(cids)}"))
            elif op[0] == "fill" and cids:
                _, k, trade, qty, price = op
                order = ledger.order(cids[k % len(cids)])
                assert order is not None
                answers.append(ledger.record_fill(
                    venue="paper", trade_id=f"t{trade}", symbol=order.symbol, side=order.side, qty=qty, price=price,
                    ts=clock.now(), fee=qty / 1000, fee_currency="USDT", client_order_id=order.client_order_id))
            elif op[0] == "audit":
                answers.append(ledger.audit("tester", "note", {"text": op[1], "n": op[2]}))
            elif op[0] == "positions":
                answers.append(ledger.positions())
        except LedgerError as e:
            answers.append((type(e).__name__, str(e)))
    answers.append((ledger.fills(), ledger.orders(), ledger.verify_audit()))
    return answers


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {t.name: db.execute(f"SELECT * FROM {t.name} ORDER BY rowid").fetchall()  # noqa: S608 - our tables
                for t in metadata.sorted_tables}


def _run(folder: Path, sequence: list[tuple[Any, ...]]) -> tuple[list[Any], dict[str, list[tuple[Any, ...]]]]:
    clock = ManualClock(START)
    path = folder / "ledger.db"
    with Ledger(f"sqlite:///{path}", clock=clock) as ledger:
        answers = _apply(ledger, clock, sequence)
    return answers, _tables(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_direct_path_answers_and_stores_what_sqlalchemy_does(tmp_path_factory: pytest.TempPathFactory,
                                                            sequence: list[tuple[Any, ...]]) -> None:
    sequence = [("order", "BTC/USDT", "buy", Decimal("1.5"), Decimal("100.25")), *sequence]
    direct_answers, direct_tables = _run(tmp_path_factory.mktemp("direct"), sequence)
    with pytest.MonkeyPatch.context() as patch:  # the same ledger, every statement through SQLAlchemy
        patch.setattr(LedgerBase, "_direct", staticmethod(lambda connection: connection))
        plain_answers, plain_tables = _run(tmp_path_factory.mktemp("plain"), sequence)
    assert direct_answers == plain_answers
    assert direct_tables == plain_tables
    assert sum(len(rows) for rows in direct_tables.values()) > 0


def test_the_ledger_runs_its_order_statements_on_the_direct_path(tmp_path: Path) -> None:
    """Guard the speed-up itself: an order's statements must not fall back to SQLAlchemy's execute."""
    from sqlalchemy import event

    clock = ManualClock(START)
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}", clock=clock) as ledger:
        ledger.ensure_account("paper")
        ledger.ensure_account("paper")  # read back committed: known from now on, never looked up again
        seen: list[str] = []
        event.listen(ledger.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        ledger.record_intents([dict(client_order_id="c1", venue="paper", symbol="BTC/USDT", side="buy",
                                    order_type="market", qty="1")], sent_source="gate")
        ledger.record_answer("c1", "filled", venue_order_id="v1", filled_qty="1", avg_price="100")
        ledger.record_fill(venue="paper", trade_id="t1", symbol="BTC/USDT", side="buy", qty="1", price="100",
                           ts=clock.now(), client_order_id="c1")
        ledger.pretrade("c2", venue="paper", account="default", deployment="alpha", fills_after_id=0)
    assert [s for s in seen if not s.startswith("BEGIN")] == []


def test_a_duplicate_on_the_direct_path_raises_sqlalchemys_integrity_error(tmp_path: Path) -> None:
    """Callers catch SQLAlchemy's IntegrityError for a row another writer stored first."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.ensure_account("paper")
    row = dict(venue="paper", account="default", trade_id="t1", symbol="BTC/USDT", side="buy", qty=Decimal(1),
               price=Decimal(100), fee=Decimal(0), ts=START, recorded_at=START)
    with write_tx(ledger.engine) as connection:
        direct = DirectConnection(connection)
        assert direct.execute(_INSERT_FILL, row).inserted_primary_key == (1,)
        with pytest.raises(IntegrityError, match="UNIQUE"):
            direct.execute(_INSERT_FILL, row)
    ledger.close()
    assert len(_tables(tmp_path / "l.db")["fills"]) == 1


def test_direct_connection_refuses_other_databases() -> None:
    class Fake:
        class dialect:  # noqa: N801 - the attribute a SQLAlchemy connection has
            name = "postgresql"

    with pytest.raises(ValueError, match="SQLite"):
        DirectConnection(Fake())  # type: ignore[arg-type]
