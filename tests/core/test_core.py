from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core import (
    ConfigError,
    CostModel,
    ManualClock,
    get_settings,
    quantize_down,
    quantize_nearest,
    timeframe_ms,
)


def test_timeframes() -> None:
    assert timeframe_ms("1m") == 60_000
    assert timeframe_ms("4h") == 4 * 3_600_000
    assert timeframe_ms("1d") == 86_400_000
    with pytest.raises(ConfigError, match="unknown timeframe '7x'"):
        timeframe_ms("7x")


@given(
    st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False),
    st.sampled_from(["0.001", "0.01", "0.00001", "1", "0.5"]),
)
def test_quantize_down_is_a_multiple_not_above(value: Decimal, step: str) -> None:
    q = quantize_down(value, step)
    assert q <= value
    assert value - q < Decimal(step)
    assert (q / Decimal(step)) == (q / Decimal(step)).to_integral_value()


def test_quantize_nearest_ties_even() -> None:
    assert quantize_nearest("1.25", "0.1") == Decimal("1.2")
    assert quantize_nearest(0.1 + 0.2, "0.01") == Decimal("0.30")


def test_cost_model_moves_price_against_trader() -> None:
    cm = CostModel(fee_bps=10, slippage_bps=5)
    assert cm.fill_price(100.0, +1) == pytest.approx(100.05)
    assert cm.fill_price(100.0, -1) == pytest.approx(99.95)
    assert cm.fee(-1000.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        CostModel(fee_bps=-1)


def test_manual_clock_never_runs_backwards() -> None:
    clock = ManualClock(1_000)
    clock.advance(500)
    assert clock.now_ms() == 1_500
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(1_000)


def test_settings_read_toml_and_env_wins(quantdesk_home, monkeypatch) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(
        '[venues.sim]\nexchange = "binance"\napi_url = "http://127.0.0.1:9999"\n'
    )
    s = get_settings()
    assert s.home == quantdesk_home
    assert s.venues["sim"].api_url == "http://127.0.0.1:9999"
    assert s.database_url.endswith("quantdesk.db")
    monkeypatch.setenv("QUANTDESK_DB_URL", "postgresql+psycopg://localhost/x")
    assert get_settings().database_url == "postgresql+psycopg://localhost/x"


def test_settings_bad_toml_names_the_file(quantdesk_home) -> None:
    (quantdesk_home / "quantdesk.toml").write_text("[venues\n")
    with pytest.raises(ConfigError, match="quantdesk.toml is not valid TOML"):
        get_settings()
