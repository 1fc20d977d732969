"""make_exchange / resolve_venue: URL rewriting, sandbox, credentials from env vars, id validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.core.config_file import update_config
from quantdesk.core.errors import ConfigError
from quantdesk.core.settings import VenueConfig, config_path
from quantdesk.ingest.exchange import (
    check_exchange_id,
    make_exchange,
    resolve_venue,
    rewrite_api_urls,
)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("exchange_id", ["binance", "okx", "gate", "bybit"])
def test_api_url_rewrites_every_endpoint_and_keeps_paths(exchange_id: str) -> None:
    exchange = make_exchange(VenueConfig(exchange=exchange_id, api_url="http://127.0.0.1:9/"))
    urls = _strings(exchange.urls["api"])
    assert urls and all(u.startswith("http://127.0.0.1:9") for u in urls)
    assert exchange.enableRateLimit is True


def test_rewrite_keeps_the_path() -> None:
    got = rewrite_api_urls(
        {
            "public": "https://api.binance.com/api/v3",
            "x": {"y": "https://fapi.binance.com/fapi/v1"},
        },
        "http://h:1",
    )
    assert got == {"public": "http://h:1/api/v3", "x": {"y": "http://h:1/fapi/v1"}}


def test_sandbox_switches_to_the_testnet() -> None:
    exchange = make_exchange(VenueConfig(exchange="binance", sandbox=True))
    assert "testnet" in exchange.urls["api"]["public"]


def test_keys_come_from_env_and_a_missing_var_names_the_var_not_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    venue = VenueConfig(exchange="binance", key_env="QD_TEST_KEY", secret_env="QD_TEST_SECRET")
    with pytest.raises(ConfigError, match="QD_TEST_KEY") as excinfo:
        make_exchange(venue)
    assert "export QD_TEST_KEY" in str(excinfo.value)
    monkeypatch.setenv("QD_TEST_KEY", "k-123")
    monkeypatch.setenv("QD_TEST_SECRET", "s-456")
    exchange = make_exchange(venue)
    assert (exchange.apiKey, exchange.secret) == ("k-123", "s-456")


def test_unknown_exchange_id_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean binance"):
        check_exchange_id("binanse")


def test_resolve_venue_prefers_a_configured_name(quantdesk_home: Path) -> None:
    update_config(
        config_path(), "venues", "sim", {"exchange": "binance", "api_url": "http://127.0.0.1:1"}
    )
    name, venue = resolve_venue("sim")
    assert (name, venue.exchange, venue.api_url) == ("sim", "binance", "http://127.0.0.1:1")
    assert resolve_venue("okx") == ("okx", VenueConfig(exchange="okx"))
    with pytest.raises(ConfigError, match="configured venue \\(sim\\)"):
        resolve_venue("nope-not-an-exchange")
