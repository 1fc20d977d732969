"""What the runner runs: a plain, frozen view of a deployment (or of an ad-hoc spec for replay).

The promotion registry owns deployments; the runner reads only the fields below, so a
`quantdesk.promotion.Deployment` (or anything with the same attributes) converts with
`RunSpec.from_deployment`. Replay and parity also accept a `RunSpec` built by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import ConfigError
from quantdesk.core.types import Stage

__all__ = ["RunSpec"]


def _float(value: Any, default: float) -> float:
    return default if value is None else float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """Everything the runner needs to trade one deployment.

    `strategy` is a registered name or `path.py:Class`; `capital` is the quote amount the
    deployment trades with (its equity starts there); `lake_exchange` is the lake's name for
    the venue's candles (default: `venue`); `window_bars` is the trailing history handed to
    `target()` per bar (default: `2 * warmup + 10`, at least 50). `market="futures"` trades
    USDT-M perpetuals (symbols like `XRP/USDT:USDT`) on isolated margin at a whole-number
    `leverage`: the target is the fraction of equity posted as margin, as in
    `quantdesk.backtest.futures`.
    """

    name: str
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...]
    timeframe: str
    venue: str = "paper"
    account: str = "default"
    capital: float = 10_000.0
    stage: Stage = Stage.PAPER
    cost: CostModel = field(default_factory=CostModel)
    rules: Mapping[str, MarketRules] = field(default_factory=dict)
    allow_short: bool = False
    rebalance: bool = False
    code_hash: str | None = None
    lake_exchange: str | None = None
    window_bars: int | None = None
    risk: Mapping[str, Any] = field(default_factory=dict)
    market: str = "spot"
    leverage: float = 1.0

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError(f"deployment {self.name!r} names no symbols; give at least one, e.g. BTC/USDT")
        if not self.capital > 0:
            raise ConfigError(f"deployment {self.name!r} has capital {self.capital}; give a positive amount")
        if self.market not in ("spot", "futures"):
            raise ConfigError(f"deployment {self.name!r} has market {self.market!r}; use spot or futures")
        if self.market == "spot" and self.leverage != 1:
            raise ConfigError(f"deployment {self.name!r} trades spot at leverage {self.leverage}; leverage needs "
                              "market futures")
        if self.market == "futures":
            spot = [s for s in self.symbols if ":" not in s]
            if spot:
                raise ConfigError(f"futures deployment {self.name!r} names spot symbols {spot}; use the perpetual's "
                                  "unified name, e.g. XRP/USDT:USDT")
            if len(self.symbols) != 1:
                raise ConfigError(f"futures deployment {self.name!r} trades {len(self.symbols)} contracts; a futures "
                                  "deployment trades one (deploy one per contract)")
            if not (1 <= self.leverage <= 125 and float(self.leverage).is_integer()):
                raise ConfigError(f"futures deployment {self.name!r} has leverage {self.leverage}; exchanges take a "
                                  "whole number from 1 to 125")

    @property
    def data_exchange(self) -> str:
        """Return the lake exchange name the candles live under."""
        return self.lake_exchange or self.venue

    @classmethod
    def from_deployment(cls, deployment: Any, **overrides: Any) -> RunSpec:
        """Build a spec from a promotion `Deployment` (read by attribute name; missing ones default)."""
        if isinstance(deployment, RunSpec):
            return _replace(deployment, overrides)
        get = lambda name, default=None: getattr(deployment, name, default)  # noqa: E731
        symbols = get("symbols") or ()
        if isinstance(symbols, str):
            symbols = tuple(s.strip() for s in symbols.split(",") if s.strip())
        cost = get("cost") or get("cost_model")
        if cost is None:
            cost = CostModel(fee_bps=_float(get("fee_bps"), 10.0), slippage_bps=_float(get("slippage_bps"), 0.0))
        stage = get("stage") or Stage.PAPER
        values: dict[str, Any] = dict(
            name=str(get("name")),
            strategy=str(get("strategy_ref") or get("strategy")),
            params=dict(get("params") or {}),
            symbols=tuple(symbols),
            timeframe=str(get("timeframe") or "1m"),
            venue=str(get("venue") or "paper"),
            account=str(get("account") or "default"),
            capital=_float(get("capital"), 10_000.0),
            stage=Stage(str(stage)),
            cost=cost,
            rules=dict(get("rules") or get("market_rules") or {}),
            allow_short=bool(get("allow_short", False)),
            rebalance=bool(get("rebalance", False)),
            code_hash=get("code_hash"),
            lake_exchange=get("lake_exchange"),
            window_bars=get("window_bars"),
            risk=dict(get("risk_overrides") or {}),
            market=str(get("market") or "spot"),
            leverage=_float(get("leverage"), 1.0),
        )
        values.update(overrides)
        return cls(**values)


def _replace(spec: RunSpec, overrides: Mapping[str, Any]) -> RunSpec:
    if not overrides:
        return spec
    from dataclasses import replace

    return replace(spec, **overrides)
