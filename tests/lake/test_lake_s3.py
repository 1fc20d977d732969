"""The lake on S3-compatible object storage: a real moto server on 127.0.0.1, the real s3fs client.

Whatever is written to an `s3://` lake reads back as the same writes to a local lake read:
candles (stored and resampled), series, coverage, the quarantine, DuckDB SQL, funding rates;
an upsert replaces its object whole (no temporary objects are left); and the CLI finds the lake
through QUANTDESK_LAKE_URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from quantdesk.core.errors import LakeError
from quantdesk.lake import Lake

from .lake_helpers import candles, make_lake

pytestmark = [pytest.mark.integration]

BUCKET = "quantdesk-lake"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket prefix per test; the AWS variables point at the moto server."""
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "moto-key", "AWS_SECRET_ACCESS_KEY": "moto-secret",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/{request.node.name}"


def _keys(url: str) -> list[str]:
    import boto3

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _write_both(s3_lake: Lake, local: Lake) -> None:
    bad = candles([5, 6], seed=9).with_columns(high=pl.col("low") - 1)  # high below low: quarantined
    for lake in (s3_lake, local):
        lake.write(candles(list(range(0, 3000)), seed=1), exchange="binance", symbol="BTC/USDT", timeframe="1m")
        lake.write(candles(list(range(0, 500)), seed=2), exchange="okx", symbol="BTC/USDT", timeframe="1m")
        lake.write(bad, exchange="okx", symbol="BTC/USDT", timeframe="1m")
        lake.funding.write({"ts": [1_700_000_000_000, 1_700_028_800_000], "rate": [0.0001, -0.0002]},
                           exchange="binanceusdm", symbol="XRP/USDT:USDT")
        lake.numeric.write({"ts": [1_704_067_200_000 + h * 3_600_000 for h in range(0, 24 * 40, 4)],
                            "value": [float(h) for h in range(0, 24 * 40, 4)]},
                           exchange="binanceusdm", symbol="XRP/USDT:USDT", name="open_interest")


def test_an_s3_lake_reads_back_what_a_local_lake_reads(s3: str, tmp_path: Path) -> None:
    s3_lake, local = make_lake(s3), make_lake(tmp_path / "lake")  # type: ignore[arg-type]
    assert s3_lake.location == s3 and repr(s3_lake) == f"Lake({s3!r})"
    _write_both(s3_lake, local)

    assert s3_lake.series() == local.series() == [("binance", "BTC/USDT", "1m"), ("okx", "BTC/USDT", "1m")]
    for timeframe in ("1m", "1h"):
        got = s3_lake.candles("BTC/USDT", timeframe, exchange="binance")
        assert got.equals(local.candles("BTC/USDT", timeframe, exchange="binance")) and got.height > 0
    window = dict(start="2024-01-30T10:00", end="2024-02-01T00:00", exchange="binance")
    assert s3_lake.candles("BTC/USDT", "1m", **window).equals(local.candles("BTC/USDT", "1m", **window))
    assert s3_lake.coverage().equals(local.coverage())
    assert s3_lake.quarantine().drop("quarantined_at").equals(local.quarantine().drop("quarantined_at"))
    assert s3_lake.quarantine().height == 2
    query = "select exchange, count(*) n, round(sum(close), 6) c from candles group by exchange order by exchange"
    assert s3_lake.sql(query).fetchall() == local.sql(query).fetchall() == [
        ("binance", 3000, pytest.approx(local.sql(query).fetchall()[0][2])), ("okx", 500, pytest.approx(
            local.sql(query).fetchall()[1][2]))]
    assert s3_lake.sql("select count(*) from quarantine").fetchall() == [(2,)]
    assert s3_lake.funding.series() == [("binanceusdm", "XRP/USDT:USDT")]
    assert s3_lake.funding.read("XRP/USDT:USDT", exchange="binanceusdm").equals(
        local.funding.read("XRP/USDT:USDT", exchange="binanceusdm"))
    # numeric series (issue 27): the same months, points and SQL on object storage
    key = {"exchange": "binanceusdm", "symbol": "XRP/USDT:USDT"}
    assert s3_lake.numeric.series() == local.numeric.series() == [("binanceusdm", "XRP/USDT:USDT", "open_interest")]
    got = s3_lake.numeric.read("open_interest", start="2024-01-20", **key)
    assert got.equals(local.numeric.read("open_interest", start="2024-01-20", **key)) and got.height == 6 * 21  # Jan 20 .. Feb 9, every 4 h
    assert s3_lake.sql("select count(*) from series").fetchall() == [(240,)]


def test_upserts_replace_whole_objects_and_repeat_writes_change_nothing(s3: str) -> None:
    lake = make_lake(s3)  # type: ignore[arg-type]
    first = lake.write(candles(list(range(0, 100))), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    keys = _keys(s3)
    assert first.inserted == 100 and len(keys) == 1 and keys[0].endswith("2024-01.parquet")
    again = lake.write(candles(list(range(0, 100))), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    assert (again.unchanged, again.files_written) == (100, 0)
    more = lake.write(candles(list(range(50, 3000)), seed=5), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    assert (more.inserted, more.updated) == (2900, 50)
    keys = _keys(s3)
    assert [k.rsplit("/", 1)[1] for k in keys] == ["2024-01.parquet", "2024-02.parquet"]  # no temporaries
    stored = lake.candles("BTC/USDT", "1m", exchange="binance")
    assert stored.height == 3000 and stored["ts"].is_sorted() and stored["ts"].n_unique() == 3000


def test_the_cli_finds_the_lake_through_quantdesk_lake_url(s3: str, quantdesk_home: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from quantdesk.cli import app

    monkeypatch.setenv("QUANTDESK_LAKE_URL", s3)
    Lake().write(candles(list(range(0, 120))), exchange="binance", symbol="ETH/USDT", timeframe="1m")
    result = CliRunner().invoke(app, ["lake", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["lake"] == s3 and [(r["symbol"], r["rows"]) for r in status["series"]] == [("ETH/USDT", 120)]
    assert not (quantdesk_home / "lake").exists()  # nothing went to the local folder


def test_a_missing_bucket_or_a_bad_url_is_a_clear_error(s3_endpoint: str, s3: str) -> None:
    from quantdesk.core.errors import ConfigError

    lake = make_lake("s3://no-such-bucket/x")  # type: ignore[arg-type]
    with pytest.raises(LakeError, match="object store refused.*QUANTDESK_LAKE_URL"):
        lake.write(candles([0, 1]), exchange="binance", symbol="BTC/USDT", timeframe="1m")
    with pytest.raises(ConfigError, match="names no bucket"):
        Lake("s3://")
    with pytest.raises(ConfigError, match="only local folders and s3://"):
        Lake("gs://bucket/x")
