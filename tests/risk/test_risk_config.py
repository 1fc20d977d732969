"""Risk settings from quantdesk.toml: validation names the key, merge order is documented."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.core import RiskError, TradingState
from quantdesk.risk import BUILTIN_LIMITS, RiskConfig


def test_settings_toml_is_read_and_merged(quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(
        """
[risk.default]
max_notional_per_order = 10000
max_orders_per_second = 5
on_daily_loss = "HALTED"

[risk.symbols."BTC/USDT"]
max_position_qty = 2
price_band_bps = 200

[risk.deployments.alpha]
max_notional_per_order = 500

[risk.deployments.alpha.symbols."BTC/USDT"]
max_position_qty = 0.5
"""
    )
    config = RiskConfig.from_settings()
    alpha_btc = config.limits_for("alpha", "BTC/USDT")
    assert alpha_btc.max_position_qty == Decimal("0.5")
    assert alpha_btc.max_notional_per_order == Decimal(500)
    assert alpha_btc.price_band_bps == Decimal(200)
    assert alpha_btc.max_orders_per_second == 5
    assert alpha_btc.on_daily_loss is TradingState.HALTED
    other = config.limits_for("beta", "ETH/USDT")
    assert other.max_notional_per_order == Decimal(10000)
    assert other.max_position_qty is None and other.price_band_bps == Decimal(500)  # built-in default
    assert other.on_max_drawdown is TradingState.HALTED  # built-in default
    assert config.limits_for("beta", "BTC/USDT").max_position_qty == Decimal(2)


def test_float_limits_become_exact_decimals() -> None:
    config = RiskConfig.from_dict({"default": {"max_notional_per_order": 0.1}})
    assert config.limits_for("a", "X").max_notional_per_order == Decimal("0.1")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"default": {"max_qty_per_order": -1}}, "risk.default.max_qty_per_order = -1"),
        ({"deployments": {"alpha": {"max_orders_per_second": "many"}}}, "risk.deployments.alpha.max_orders_per_second"),
        ({"symbols": {"BTC/USDT": {"max_gross_exposure": 5}}}, "is a deployment-wide limit"),
        ({"deployments": {"a": {"symbols": {"X": {"max_orders_per_day": 5}}}}}, "risk.deployments.a.symbols.X.max_orders_per_day"),
        ({"default": {"max_notional_per_ordr": 5}}, "not a known risk setting"),
        ({"default": {"on_daily_loss": "ACTIVE"}}, "risk.default.on_daily_loss"),
        ({"default": {"max_drawdown_pct": 150}}, "risk.default.max_drawdown_pct"),
        ({"colour": {}}, "risk.colour"),
        ({"max_leverage": 10}, "write it under [risk.default]"),  # a limit outside any table
    ],
)
def test_invalid_settings_name_the_key(raw: dict, needle: str) -> None:
    with pytest.raises(RiskError, match=None) as info:
        RiskConfig.from_dict(raw)
    assert needle in str(info.value)


def test_empty_config_has_no_limits() -> None:
    limits = RiskConfig.from_dict(None).limits_for("any", "ANY/USDT")
    assert limits.max_qty_per_order is None and limits.max_active_orders is None
    assert RiskConfig.from_dict({}).as_dict()["default"] == {}


def test_a_fresh_install_has_the_built_in_limits_and_each_is_removed_only_in_writing() -> None:
    fresh = RiskConfig.from_dict({}).limits_for("any", "BTC/USDT")
    for key, value in BUILTIN_LIMITS.items():
        assert getattr(fresh, key) == value, key
    removed = RiskConfig.from_dict({
        "default": {"price_band_bps": "none", "max_orders_per_second": 20},
        "symbols": {"ETH/USDT": {"max_leverage": "NONE"}},
        "deployments": {"alpha": {"price_band_bps": 50}},
    })
    btc = removed.limits_for("beta", "BTC/USDT")
    assert btc.price_band_bps is None and btc.max_orders_per_second == 20
    assert btc.max_leverage == BUILTIN_LIMITS["max_leverage"]
    assert removed.limits_for("beta", "ETH/USDT").max_leverage is None
    assert removed.limits_for("alpha", "BTC/USDT").price_band_bps == Decimal(50)  # a later layer sets it again
    with pytest.raises(RiskError, match="price_band_bps"):
        RiskConfig.from_dict({"default": {"price_band_bps": "off"}})  # only "none" removes a limit


def test_explain_names_the_layer_of_every_limit() -> None:
    config = RiskConfig.from_dict(
        {"default": {"max_orders_per_second": 20}, "symbols": {"BTC/USDT": {"price_band_bps": "none"}},
         "deployments": {"alpha": {"max_notional_per_order": 1000}}},
        deployment_origins={"alpha": "deployment alpha (overrides)"})
    found = {s.key: s for s in config.explain("alpha", "BTC/USDT")}
    assert (found["max_orders_per_second"].value, found["max_orders_per_second"].source) == (20, "[risk.default]")
    assert (found["price_band_bps"].value, found["price_band_bps"].source) == (None, '[risk.symbols."BTC/USDT"]')
    assert found["max_notional_per_order"].source == "deployment alpha (overrides)"
    assert (found["max_leverage"].value, found["max_leverage"].source) == (Decimal(10), "built-in default")
    assert found["max_position_qty"].source == "not set"
