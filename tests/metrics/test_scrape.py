"""A scripted desk session, then a scrape: every counter moved by exactly what happened.

N orders through the simulated venue (the CLI's order path: gate, ledger, real ccxt), M denials
of one known code, one halt, one refused dashboard login; parsed with prometheus_client's
parser, checked by `promtool check metrics`, and scraped by a real Prometheus server.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.ledger import Ledger

from .conftest import PASSWORD, REPO, dashboards_on_path, free_port, need, scrape

pytestmark = pytest.mark.integration

N_ORDERS, M_DENIALS = 3, 2
DENIAL = "QTY_EXCEEDS_MAX_PER_ORDER"


def cli(*args: str, password: bool = False) -> dict[str, Any]:
    argv = [*args, "--json"] + (["--password-stdin"] if password else [])
    result = CliRunner().invoke(app, argv, input=PASSWORD + "\n" if password else None)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def deny() -> None:
    """Send one order the gate denies with DENIAL (qty 5 > max_qty_per_order 1): exit 3, the code on stderr."""
    argv = ["order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "sell", "--qty", "5", "--password-stdin"]
    result = CliRunner().invoke(app, argv, input=PASSWORD + "\n")
    assert result.exit_code == 3 and DENIAL in result.stderr, result.stderr


def run_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    """N filled orders, M denials of DENIAL, one halt, one refused login."""
    for _ in range(N_ORDERS):
        out = cli("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.1", password=True)
        assert out["status"] == "filled", out
    for _ in range(M_DENIALS):
        deny()
    cli("halt", "--reason", "metrics test")
    dashboards_on_path()
    import asyncio

    from _auth import attempt_login

    import quantdesk.desk
    from quantdesk.core.errors import AuthenticationError

    with Ledger() as ledger:
        monkeypatch.setattr(quantdesk.desk, "shared_ledger", lambda: ledger)
        # the login form's own check (LedgerLoginHandler.post awaits it), without a tornado request
        with pytest.raises(AuthenticationError):
            asyncio.run(attempt_login("tina", "not-her-password", address="127.0.0.1"))


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def exporter(ledger: Ledger) -> Any:
    from quantdesk.cli.metrics import ledger_reader
    from quantdesk.metrics import serve_metrics

    return serve_metrics(port=0, read_ledger=ledger_reader(ledger))


def test_a_scripted_session_moves_each_counter_by_what_happened(
        venue: Any, fresh_metrics: None, monkeypatch: pytest.MonkeyPatch) -> None:
    run_sequence(monkeypatch)
    with Ledger() as ledger, exporter(ledger) as server:
        text = scrape(f"http://127.0.0.1:{server.port}/metrics")
        fills = len(ledger.fills())
    found = samples(text)

    assert value(found, "quantdesk_orders_total", venue="sim", side="buy", outcome="filled") == N_ORDERS
    assert value(found, "quantdesk_orders_total", venue="sim", side="sell", outcome="denied") == M_DENIALS
    orders = {k: v for k, v in found.items() if k[0] == "quantdesk_orders_total"}
    assert sum(orders.values()) == N_ORDERS + M_DENIALS, orders  # nothing else counted
    assert value(found, "quantdesk_risk_denials_total", code=DENIAL) == M_DENIALS
    assert fills >= N_ORDERS and value(found, "quantdesk_fills_total", venue="sim") == fills
    assert value(found, "quantdesk_logins_total", outcome="refused") == 1
    assert value(found, "quantdesk_logins_total", outcome="accepted") == 0
    assert value(found, "quantdesk_trading_state", scope="global") == 2
    assert value(found, "quantdesk_metrics_contract_info", version="1") == 1

    # histograms: _count is the number of observations, and the +Inf bucket equals _count
    expected_counts = {("quantdesk_order_seconds", frozenset({("venue", "sim")})): N_ORDERS,
                       ("quantdesk_risk_check_seconds", frozenset()): N_ORDERS + M_DENIALS}
    for (name, labels), count in expected_counts.items():
        assert found[(f"{name}_count", labels)] == count, name
        assert found[(f"{name}_bucket", labels | {("le", "+Inf")})] == count, name
    for (name, labels), v in found.items():  # every histogram of the scrape, whatever recorded it
        if name.endswith("_count") and (f"{name[:-6]}_bucket", labels | {("le", "+Inf")}) in found:
            assert found[(f"{name[:-6]}_bucket", labels | {("le", "+Inf")})] == v, name

    # no label carries what someone typed: the refused user name, the halt's reason
    assert "not-her-password" not in text and "tina" not in text and "metrics test" not in text

    promtool = need("promtool")
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint.stdout + lint.stderr


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_exporter_and_counts_the_denials(
        venue: Any, fresh_metrics: None, tmp_path: Path) -> None:
    import yaml

    prometheus = need("prometheus")
    for _ in range(M_DENIALS):
        deny()
    with Ledger() as ledger, exporter(ledger) as server:
        # the shipped scrape config, its target pointed at this exporter, scraped every second
        config = yaml.safe_load((REPO / "monitoring" / "prometheus" / "prometheus.yml").read_text())
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(REPO / "monitoring" / "prometheus" / "alerts.yml")]
        (job,) = config["scrape_configs"]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{server.port}"]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        with subprocess.Popen(
            [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ) as process:
            try:
                result = _query_until_answered(process, port, "sum(quantdesk_risk_denials_total)")
            finally:
                process.terminate()
                process.wait(timeout=30)
    assert float(result[0]["value"][1]) == M_DENIALS


def _query_until_answered(process: subprocess.Popen[str], port: int, query: str) -> list[Any]:
    """Ask Prometheus' HTTP API until the first scrape has landed (a deadline only against a hang)."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
        try:
            answer = json.loads(scrape(url))
        except OSError:
            time.sleep(0.5)
            continue
        if answer["status"] == "success" and answer["data"]["result"]:
            return list(answer["data"]["result"])
        time.sleep(0.5)
    raise AssertionError(f"prometheus never answered {query!r} with a value within 90 s")
