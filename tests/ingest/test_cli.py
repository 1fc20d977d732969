"""CLI: venue add/list, import --json and its errors, ingest --json through a configured venue."""

from __future__ import annotations

import json
import socket
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake
from quantdesk.venue import SimulatedVenue

from .test_ingest_venue import _candles

runner = CliRunner()
T0_MS = 1_704_067_200_000


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def test_venue_add_writes_toml_and_list_shows_it(quantdesk_home: Path) -> None:
    result = _invoke("venue", "add", "sim", "--exchange", "binance", "--api-url", "http://127.0.0.1:8900",
                     "--ws-url", "ws://127.0.0.1:8901/stream",
                     "--key-env", "SIM_KEY", "--secret-env", "SIM_SECRET", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "sim"
    stored = tomllib.loads((quantdesk_home / "quantdesk.toml").read_text())
    assert stored["venues"]["sim"] == {
        "exchange": "binance", "api_url": "http://127.0.0.1:8900", "ws_url": "ws://127.0.0.1:8901/stream",
        "sandbox": False, "key_env": "SIM_KEY", "secret_env": "SIM_SECRET",
    }  # fmt: skip
    from quantdesk.core.settings import get_settings

    assert get_settings().venues["sim"].ws_url == "ws://127.0.0.1:8901/stream"  # what make_exchange(pro=True) reads
    assert _invoke("venue", "add", "okx-test", "--exchange", "okx", "--sandbox").exit_code == 0
    listed = json.loads(_invoke("venue", "list", "--json").stdout)
    assert [(v["name"], v["exchange"], v["sandbox"]) for v in listed["venues"]] == [
        ("okx-test", "okx", True),
        ("sim", "binance", False),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange", "binanse"], "did you mean binance"),
        (["--exchange", "binance", "--key-env", "ONLY_KEY"], "both --key-env and --secret-env"),
        (["--exchange", "binance", "--api-url", "127.0.0.1:8900"], "must start with http"),
        (["--exchange", "binance", "--ws-url", "http://127.0.0.1:8901/stream"], "must start with ws:// or wss://"),
    ],
)
def test_venue_add_refuses_bad_input_in_one_line(
    quantdesk_home: Path, args: list[str], message: str
) -> None:
    result = _invoke("venue", "add", "x", *args)
    assert result.exit_code != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert not (quantdesk_home / "quantdesk.toml").exists()


def test_import_json_output_and_lake_rows(tmp_path: Path, quantdesk_home: Path) -> None:
    rows = [[T0_MS + i * 300_000, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 10.0] for i in range(6)]
    path = tmp_path / "ETH_BTC-5m.json"
    path.write_text(json.dumps(rows))
    result = _invoke("import", str(path), "--exchange", "binance", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["symbol"], report["timeframe"], report["inserted"], report["format"]) == (
        "ETH/BTC",
        "5m",
        6,
        "freqtrade-json",
    )
    assert Lake().candles("ETH/BTC", "5m", exchange="binance").height == 6


def test_import_generic_csv_with_map(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("t,o,h,l,c,v\n1704067200,1,2,0.5,1.5,3\n1704067260,1.5,2,1,1.8,4\n")
    result = _invoke(
        "import",
        str(path),
        "--symbol",
        "SOL/USDT",
        "--map",
        "ts=t,open=o,high=h",
        "--map",
        "low=l,close=c,volume=v",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["timeframe"] == "1m"


@pytest.mark.parametrize(("content", "message"), [(b"", "is empty"), (b"[]", "empty JSON array")])
def test_import_empty_files_fail_cleanly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "NOPAIR_XXX-4m.json"
    path.write_bytes(content)
    result = _invoke("import", str(path))
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ingest_unreachable_venue_says_what_to_do() -> None:
    _invoke(
        "venue",
        "add",
        "down",
        "--exchange",
        "binance",
        "--api-url",
        f"http://127.0.0.1:{_closed_port()}",
    )
    result = _invoke(
        "ingest",
        "--exchange",
        "down",
        "--symbol",
        "BTC/USDT",
        "--since",
        "2024-01-01",
        "--max-attempts",
        "1",
    )
    assert result.exit_code == 1
    assert "could not reach binance" in result.stderr and "quantdesk sample" in result.stderr


@pytest.mark.integration
def test_ingest_json_through_a_configured_venue() -> None:
    candles = _candles(1_200)
    end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=1_200)
    with SimulatedVenue(
        {"BTC/USDT": candles, "ETH/USDT": candles}, clock=ManualClock(end)
    ) as venue:
        assert (
            _invoke(
                "venue", "add", "sim", "--exchange", "binance", "--api-url", venue.url
            ).exit_code
            == 0
        )
        args = ["ingest", "--exchange", "sim", "--symbol", "BTC/USDT", "--symbol", "ETH/USDT",
                "--since", "2024-01-01", "--until", end.isoformat(), "--json"]  # fmt: skip
        result = _invoke(*args)
        assert result.exit_code == 0, result.output
        reports = json.loads(result.stdout)["reports"]
        assert [(r["exchange"], r["symbol"], r["fetched"]) for r in reports] == [
            ("sim", "BTC/USDT", 1_200),
            ("sim", "ETH/USDT", 1_200),
        ]
        again = json.loads(_invoke(*args).stdout)["reports"]
        assert [r["fetched"] for r in again] == [0, 0]  # resumed: nothing new
    assert Lake().candles("ETH/USDT", "1m", exchange="sim").height == 1_200
