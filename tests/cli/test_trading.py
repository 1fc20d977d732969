"""`quantdesk order/orders/positions/cancel/reconcile` against the simulated venue, via the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core import ManualClock
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue

pytestmark = pytest.mark.integration

KEY = "CliCanaryKey5b8e2d7a9c1f4e6b0d3a8c5e7f9b1d2a4c6e8f0a1b3c5d7e9f2a4b6c8d0e1f3"
SECRET = "CliCanarySecret3e6a9d2c5f8b1e4a7d0c3f6b9e2a5d8c1f4b7e0a3d6c9f2b5e8a1d4c7f0"
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def venue(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedVenue]:
    ts = [START + timedelta(minutes=i) for i in range(120)]
    close = [100.0 + (i % 10) * 0.5 for i in range(120)]
    frame = pl.DataFrame(
        {"ts": ts, "open": close, "high": [c + 1 for c in close], "low": [c - 1 for c in close],
         "close": close, "volume": [1000.0] * 120}
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(START + timedelta(minutes=60)),
                        api_key=KEY, api_secret=SECRET) as v:
        from quantdesk.identity import add_user
        from quantdesk.ledger import Ledger

        with Ledger() as ledger:  # orders go to a venue: the trading user proves who they are
            add_user(ledger, "tina", "admin", actor="tina", password=TRADER_PASSWORD)
        monkeypatch.setenv("QUANTDESK_USER", "tina")
        monkeypatch.setenv("QD_TEST_KEY", KEY)
        monkeypatch.setenv("QD_TEST_SECRET", SECRET)
        (quantdesk_home / "quantdesk.toml").write_text(
            f"""
[venues.sim]
exchange = "binance"
api_url = "{v.url}"
key_env = "QD_TEST_KEY"
secret_env = "QD_TEST_SECRET"

[risk.default]
max_qty_per_order = 1
"""
        )
        yield v


TRADER_PASSWORD = "tina-passphrase"


def run(*args: str) -> tuple[int, str, str]:
    argv, stdin = list(args), None
    if argv[0] == "order":
        argv, stdin = [*argv, "--password-stdin"], TRADER_PASSWORD + "\n"
    result = CliRunner().invoke(app, argv, input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_trading_commands_end_to_end(venue: SimulatedVenue) -> None:
    outputs: list[str] = []

    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.2", "--json")
    outputs += [out, err]
    assert code == 0, err
    market = json.loads(out)
    assert market["status"] == "filled" and market["approved"] is True

    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.2",
                         "--type", "limit", "--price", "95", "--json")
    outputs += [out, err]
    assert code == 0, err
    cid = json.loads(out)["client_order_id"]
    assert [o.client_order_id for o in venue.orders() if o.status == "NEW"] == [cid]

    code, out, err = run("orders", "--open", "--json")
    outputs += [out, err]
    assert code == 0 and [o["client_order_id"] for o in json.loads(out)["orders"]] == [cid]

    code, out, err = run("positions", "--json")
    outputs += [out, err]
    assert code == 0 and [p["qty"] for p in json.loads(out)["positions"]] == ["0.2"]

    code, out, err = run("cancel", cid, "--venue", "sim", "--json")
    outputs += [out, err]
    assert code == 0 and json.loads(out)["status"] == "canceled"

    code, out, err = run("reconcile", "--venue", "sim", "--json")
    outputs += [out, err]
    assert code == 0 and json.loads(out)["agreed"] is True

    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "2")
    outputs += [out, err]
    assert code == 3 and "QTY_EXCEEDS_MAX_PER_ORDER" in err and len(err.strip().splitlines()) == 1

    code, out, err = run("orders")
    outputs += [out, err]
    assert code == 0 and cid[:10] in out

    with Ledger() as ledger:
        actions = {e.action for e in ledger.audit_log()}
        assert {"broker.reconcile", "order.submitted", "order.cancel", "order.denied"} <= actions
        assert ledger.verify_audit().ok
        assert len(ledger.risk_events(code="QTY_EXCEEDS_MAX_PER_ORDER")) == 1
    joined = "\n".join(outputs)
    assert KEY not in joined and SECRET not in joined


def test_unknown_venue_is_a_one_line_error(venue: SimulatedVenue) -> None:
    code, _, err = run("order", "--venue", "nope", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.2")
    assert code == 2 and "unknown venue 'nope'" in err and "sim" in err


def test_bad_side_is_refused_before_anything_is_sent(venue: SimulatedVenue) -> None:
    code, _, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "long", "--qty", "0.2")
    assert code == 2 and "--side buy|sell" in err
    assert venue.request_count("order", "POST") == 0
