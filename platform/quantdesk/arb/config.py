"""The scanner's settings: `[arb]` in quantdesk.toml, overridden by command-line options.

    [arb]
    min_edge_bps = 5             # store and notify only opportunities at least this good
    max_age_ms = 1000            # never price on a book older than this
    book_levels = 50             # levels asked of each venue's book
    network = "BTC"              # withdrawal network for venue-reported fees (default: the venue's default)
    rates = ["USDC/USDT@binance"]  # named rate series for quotes in other currencies
    [arb.taker_fee_bps]          # override ccxt's market data (VIP tiers, BNB discounts)
    binance = 7.5
    [arb.transfer_costs]         # per asset, in units of the asset, where the venue reports none
    BTC = 0.0002
    "okx:USDT" = 1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.arb.freshness import DEFAULT_MAX_AGE_MS
from quantdesk.arb.scanner import RateSeries
from quantdesk.core.errors import ConfigError
from quantdesk.core.money import to_decimal

__all__ = ["ArbConfig", "parse_pairs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArbConfig:
    """Thresholds, freshness, fees, transfer costs and rate series for one scan or watch."""

    min_edge_bps: Decimal = Decimal(0)
    max_age_ms: int = DEFAULT_MAX_AGE_MS
    book_levels: int | None = 50
    taker_fee_bps: Mapping[str, Decimal] = field(default_factory=dict)
    transfer_costs: Mapping[str, Decimal] = field(default_factory=dict)
    include_transfer: bool = True
    network: str | None = None
    rates: tuple[RateSeries, ...] = ()

    def __post_init__(self) -> None:
        if self.max_age_ms <= 0:
            raise ConfigError(f"max_age_ms {self.max_age_ms} must be positive, e.g. 1000")
        if self.book_levels is not None and self.book_levels <= 0:
            raise ConfigError(f"book levels {self.book_levels} must be positive, e.g. 50")

    @classmethod
    def load(cls, settings: Any = None, *, min_edge_bps: float | None = None, max_age_ms: int | None = None,
             taker_fee_bps: Sequence[str] = (), transfer_costs: Sequence[str] = (), rates: Sequence[str] = (),
             include_transfer: bool | None = None) -> ArbConfig:
        """Read `[arb]` from settings, then apply options (`VENUE=BPS`, `ASSET=FEE`, `MARKET@VENUE` lists)."""
        if settings is None:
            from quantdesk.core.settings import get_settings

            settings = get_settings()
        section = dict(getattr(settings, "arb", None) or {})
        try:
            return cls(
                min_edge_bps=to_decimal(min_edge_bps if min_edge_bps is not None else section.get("min_edge_bps", 0)),
                max_age_ms=int(max_age_ms if max_age_ms is not None else section.get("max_age_ms", DEFAULT_MAX_AGE_MS)),
                book_levels=section.get("book_levels", 50),
                taker_fee_bps={**_numbers(section.get("taker_fee_bps") or {}, "[arb.taker_fee_bps]"),
                               **parse_pairs(taker_fee_bps, "--taker-fee-bps", "binance=7.5")},
                transfer_costs={**_numbers(section.get("transfer_costs") or {}, "[arb.transfer_costs]"),
                                **parse_pairs(transfer_costs, "--transfer-cost", "BTC=0.0002")},
                include_transfer=section.get("include_transfer", True) if include_transfer is None else include_transfer,
                network=section.get("network"),
                rates=tuple(RateSeries.parse(text) for text in [*(section.get("rates") or []), *rates]),
            )
        except (ValueError, ArithmeticError, TypeError) as e:
            raise ConfigError(f"invalid [arb] settings ({e}); see quantdesk.arb.config for the keys") from None


def _numbers(values: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    out = {}
    for key, value in values.items():
        try:
            out[str(key)] = to_decimal(value)
        except (ValueError, ArithmeticError):
            raise ConfigError(f"{where} {key} = {value!r} is not a number") from None
    return out


def parse_pairs(items: Sequence[str], option: str, example: str) -> dict[str, Decimal]:
    """Parse `NAME=NUMBER` options into a dict, refusing anything else by name."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            amount = to_decimal(value.strip()) if sep and name.strip() else None
        except (ValueError, ArithmeticError):
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            raise ConfigError(f"{option} {item!r} is not NAME=NUMBER (a non-negative number), e.g. {example}")
        out[name.strip()] = amount
    return out
