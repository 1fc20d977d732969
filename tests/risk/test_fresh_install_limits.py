"""A fresh installation (no `[risk]` table at all) trades under the built-in limits (issue 23).

End to end through the CLI against the simulated venue: a fat-finger order for 1000 BTC is
refused at the gate with the rule's code, and the venue never sees it; an ordinary order
passes; `risk limits` and `risk status` say which limit stopped it and where it came from.
"""

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
from quantdesk.venue import SimulatedVenue

pytestmark = pytest.mark.integration

KEY = "FreshInstallKey7c1e4a9d2b5f8e0a3c6d9f1b4e7a0c3d5f8b1e4a7c0d3f6b9e2a5d8c1f4b7"
SECRET = "FreshInstallSecret2d5a8c1f4e7b0d3a6c9f2e5b8d1a4c7f0e3b6d9a2c5f8e1b4d7a0c3f6e9"
START = datetime(2024, 1, 1, tzinfo=UTC)
PASSWORD = "tina-passphrase"


@pytest.fixture
def venue(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedVenue]:
    ts = [START + timedelta(minutes=i) for i in range(120)]
    close = [60_000.0 + (i % 10) * 5 for i in range(120)]
    frame = pl.DataFrame(
        {"ts": ts, "open": close, "high": [c + 10 for c in close], "low": [c - 10 for c in close],
         "close": close, "volume": [1000.0] * 120}
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(START + timedelta(minutes=60)),
                        api_key=KEY, api_secret=SECRET) as v:
        from quantdesk.identity import add_user
        from quantdesk.ledger import Ledger

        with Ledger() as ledger:
            add_user(ledger, "tina", "admin", actor="tina", password=PASSWORD)
        monkeypatch.setenv("QUANTDESK_USER", "tina")
        monkeypatch.setenv("QD_FRESH_KEY", KEY)
        monkeypatch.setenv("QD_FRESH_SECRET", SECRET)
        # a venue and nothing else: no [risk] table
        (quantdesk_home / "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{v.url}"\nkey_env = "QD_FRESH_KEY"\n'
            'secret_env = "QD_FRESH_SECRET"\n'
        )
        yield v


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def order(qty: str) -> tuple[int, str, str]:
    return run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", qty, "--json",
               "--password-stdin", stdin=PASSWORD + "\n")


def test_a_fresh_install_refuses_1000_btc_at_the_gate_and_the_venue_sees_nothing(venue: SimulatedVenue) -> None:
    code, out, err = order("1000")
    assert code != 0 or json.loads(out)["approved"] is False, (out, err)
    text = out + err
    assert "NOTIONAL_EXCEEDS_MAX_PER_ORDER" in text and "max_notional_per_order" in text
    assert venue.orders() == []  # refused before anything was sent
    assert venue.request_count(method="POST") == 0

    code, out, err = run("risk", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["recent_events"][0]["code"] == "NOTIONAL_EXCEEDS_MAX_PER_ORDER"
    assert {"rule": "max_notional_per_order", "limit": 100000, "source": "built-in default"}.items() <= next(
        r for r in status["effective_limits"] if r["rule"] == "max_notional_per_order").items()

    # an ordinary order, inside every built-in limit, is placed
    code, out, err = order("0.1")
    assert code == 0, (out, err)
    assert json.loads(out)["approved"] is True
    assert len(venue.orders()) == 1


def test_risk_limits_names_the_source_of_each_limit(venue: SimulatedVenue, quantdesk_home: Path) -> None:
    toml = quantdesk_home / "quantdesk.toml"
    toml.write_text(toml.read_text() + '\n[risk.default]\nprice_band_bps = "none"\nmax_orders_per_second = 20\n'
                    '\n[risk.deployments.alpha]\nmax_notional_per_order = 1000\n')
    code, out, err = run("risk", "limits", "--deployment", "alpha", "--json")
    assert code == 0, err
    rows = {r["rule"]: r for r in json.loads(out)["limits"]}
    assert (rows["price_band_bps"]["limit"], rows["price_band_bps"]["source"]) == (None, "[risk.default]")
    assert (rows["max_orders_per_second"]["limit"], rows["max_orders_per_second"]["source"]) == (20, "[risk.default]")
    assert (rows["max_notional_per_order"]["limit"], rows["max_notional_per_order"]["source"]) == (
        1000, "[risk.deployments.alpha]")
    assert (rows["max_leverage"]["limit"], rows["max_leverage"]["source"]) == (10, "built-in default")

    code, out, err = run("risk", "limits")
    assert code == 0, err
    assert "built-in default" in out and "[risk.default]" in out and "price_band_bps" in out

    code, out, err = run("risk", "status")
    assert code == 0, err
    assert "{" not in out, "risk status prints words, not a Python dict"
    assert "max_leverage = 10  (built-in default)" in out and "price_band_bps = none  ([risk.default])" in out
