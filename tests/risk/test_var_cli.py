"""`quantdesk risk var` on positions made through the simulated venue equals the computation done by hand
from the lake (issue 25), and its bad input is one line naming the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core import ManualClock
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue

pytestmark = pytest.mark.integration

KEY, SECRET, PASSWORD = "VarCliKey7d1e", "VarCliSecret9a4c", "tina-passphrase"


@pytest.fixture
def venue(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedVenue]:
    lake = Lake()
    write_sample(lake, symbols=3, days=130)  # 1m candles only: the daily bars are built from them
    frames = {s: lake.candles(s, "1m", exchange="synthetic", start=datetime(2024, 5, 8, tzinfo=UTC))
              for s in ("BTC/USDT", "SOL/USDT")}
    now = frames["BTC/USDT"]["ts"][-1]
    with SimulatedVenue(frames, clock=ManualClock(now), api_key=KEY, api_secret=SECRET) as v:
        from quantdesk.identity import add_user

        with Ledger() as ledger:
            add_user(ledger, "tina", "admin", actor="tina", password=PASSWORD)
        monkeypatch.setenv("QUANTDESK_USER", "tina")
        monkeypatch.setenv("QD_VAR_KEY", KEY)
        monkeypatch.setenv("QD_VAR_SECRET", SECRET)
        (quantdesk_home / "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{v.url}"\nkey_env = "QD_VAR_KEY"\nsecret_env = "QD_VAR_SECRET"\n')
        yield v


def run(*args: str) -> tuple[int, str, str]:
    argv, stdin = list(args), None
    if argv[0] == "order":
        argv, stdin = [*argv, "--password-stdin"], PASSWORD + "\n"
    result = CliRunner().invoke(app, argv, input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _by_hand(symbols: dict[str, float], window: int) -> tuple[np.ndarray, dict[str, float]]:
    """Daily closes from the lake's 1m bars, close-to-close returns of consecutive days, the book's P&L."""
    lake, frames, last = Lake(), [], {}
    for symbol in symbols:
        minutes = lake.candles(symbol, "1m", exchange="synthetic")
        last[symbol] = float(minutes["close"][-1])
        days = minutes.group_by(pl.col("ts").dt.date().alias("day")).agg(pl.col("close").sort_by("ts").last()).sort("day")
        days = days.with_columns(r=pl.col("close") / pl.col("close").shift(1) - 1,
                                 gap=pl.col("day") - pl.col("day").shift(1))
        frames.append(days.filter(pl.col("gap") == pl.duration(days=1)).select("day", pl.col("r").alias(symbol)))
    joined = frames[0]
    for f in frames[1:]:
        joined = joined.join(f, on="day")
    joined = joined.sort("day")
    joined = joined.filter(pl.col("day") > joined["day"][-1] - pl.duration(days=window))
    pnl = sum(joined[s].to_numpy() * q * last[s] for s, q in symbols.items())
    return np.asarray(pnl), last


def test_book_var_through_the_cli_equals_the_computation_by_hand(venue: SimulatedVenue) -> None:
    for symbol, qty in (("BTC/USDT", "0.5"), ("SOL/USDT", "40")):
        code, out, err = run("order", "--venue", "sim", "--symbol", symbol, "--side", "buy", "--qty", qty, "--json")
        assert code == 0 and json.loads(out)["status"] == "filled", err
    code, out, err = run("risk", "var", "--desk", "--method", "historical", "--confidence", "0.99", "--horizon", "1d",
                         "--window", "120d", "--json")
    assert code == 0, err
    got = json.loads(out)
    pnl, last = _by_hand({"BTC/USDT": 0.5, "SOL/USDT": 40.0}, 120)
    q = np.quantile(pnl, 0.01)
    assert got["observations"] == pnl.size == 120
    assert got["var_quote"] == pytest.approx(-q, rel=1e-9)
    assert got["es_quote"] == pytest.approx(-pnl[pnl <= q].mean(), rel=1e-9)
    gross = 0.5 * last["BTC/USDT"] + 40 * last["SOL/USDT"]
    assert got["var"] == pytest.approx(-q / gross, rel=1e-9)
    assert [c["name"] for c in got["contributions"]] == ["manual"]
    assert got["contributions"][0]["var_quote"] == pytest.approx(got["var_quote"], rel=1e-9)
    assert list(got)[:11] == ["method", "confidence", "horizon", "window_days", "observations", "var", "es",
                              "var_quote", "es_quote", "contributions", "scope"]
    assert got["equity_quote"] > 0, "the venue's reconciled balances value the desk"

    code, out, err = run("risk", "var", "--method", "gaussian", "--window", "120d", "--by", "asset", "--json")
    g = json.loads(out)
    mu, sigma = pnl.mean(), pnl.std(ddof=1)
    assert g["var_quote"] == pytest.approx(2.3263478740408408 * sigma - mu, rel=1e-9)
    assert sum(c["var_quote"] for c in g["contributions"]) == pytest.approx(g["var_quote"], rel=1e-9)
    assert {c["name"] for c in g["contributions"]} == {"BTC", "SOL"}
    code, out, err = run("risk", "var", "--window", "120d")
    assert code == 0 and "desk: 1d 0.99 historical VaR" in out and "manual" in out
    code, out, err = run("risk", "var", "--window", "30d")
    assert code != 0 and "0.99 VaR needs 100 daily observations" in err and "got 30" in err


def test_bad_input_is_one_line_naming_the_fix_and_nothing_is_stored(venue: SimulatedVenue) -> None:
    with Ledger() as ledger:  # a position the lake knows nothing about
        ledger.record_intent(client_order_id="x1", venue="sim", symbol="XRP/USDT", side="buy", order_type="market",
                             qty="100", deployment="manual")
        ledger.record_fill(venue="sim", trade_id="x1", symbol="XRP/USDT", side="buy", qty="100", price="0.6",
                           ts=datetime(2024, 5, 9, tzinfo=UTC), client_order_id="x1")
    cases = [
        (["risk", "var"], "XRP/USDT (venue sim) has no history in the lake: ingest it first: quantdesk ingest "
                          "--exchange binance --symbol XRP/USDT"),
        (["risk", "var", "--confidence", "1.2"], "confidence 1.2 is outside (0.5, 1)"),
        (["risk", "var", "--method", "parametric"], "unknown method 'parametric'"),
        (["risk", "var", "--window", "52w"], "window '52w' is not a number of days; write it like 365d"),
        (["risk", "var", "--deployment", "ghost"], "no deployment named 'ghost'"),
        (["risk", "var", "--deployment", "ghost", "--desk"], "give --deployment NAME or --desk, not both"),
        (["risk", "stress", "--scenario", "meteor"], "unknown scenario 'meteor'; known: covid-2020-03-12"),
        (["risk", "var-backtest"], "no evaluated days of the desk VaR series"),
    ]
    for argv, message in cases:
        code, out, err = run(*argv)
        assert code != 0 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    with Ledger() as ledger:
        from quantdesk.ledger.var_series import var_rows

        assert var_rows(ledger) == [] and ledger.risk_events() == []


def test_an_order_that_would_lift_the_desk_var_over_its_limit_is_denied_through_the_gate(
        venue: SimulatedVenue, quantdesk_home: Path) -> None:
    for symbol, qty in (("BTC/USDT", "0.5"), ("SOL/USDT", "40")):
        code, out, err = run("order", "--venue", "sim", "--symbol", symbol, "--side", "buy", "--qty", qty, "--json")
        assert code == 0, err
    code, out, err = run("risk", "var", "--json")
    share = json.loads(out)["var_pct_of_equity"]
    assert code == 0 and share > 0
    config = quantdesk_home / "quantdesk.toml"
    config.write_text(config.read_text() + f"\n[risk.default]\nmax_desk_var_pct = {share * 1.05:.6f}\n")
    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "1", "--json")
    assert code != 0 and "VAR_LIMIT_EXCEEDED" in err and "desk VaR (0.99, 1d, historical) would be" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "sell", "--qty", "0.2", "--json")
    assert code == 0 and json.loads(out)["approved"], "an order that lowers the VaR passes"
    code, out, err = run("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.01", "--json")
    assert code == 0, "a small order under the limit passes: " + err
    with Ledger() as ledger:
        assert [e.code for e in ledger.risk_events(code="VAR_LIMIT_EXCEEDED")] == ["VAR_LIMIT_EXCEEDED"]
