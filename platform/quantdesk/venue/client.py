"""A real `ccxt.binance` client pointed at a simulated venue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from quantdesk.venue.venue import SimulatedVenue

__all__ = ["binance_client", "point_at"]


def point_at(exchange: Any, base_url: str) -> Any:
    """Rewrite every URL in `exchange.urls['api']` to `base_url`, keeping each path.

    `https://api.binance.com/api/v3` becomes `BASE/api/v3`, `.../sapi/v1` becomes
    `BASE/sapi/v1`, and so on for the futures hosts, so no request can reach Binance.
    """
    base = base_url.rstrip("/")
    exchange.urls["api"] = {
        name: base + urlsplit(url).path if isinstance(url, str) else url
        for name, url in exchange.urls["api"].items()
    }
    return exchange


def binance_client(
    venue: SimulatedVenue | str,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    timeout_ms: int = 10_000,
    rate_limit: bool = False,
    options: dict[str, Any] | None = None,
) -> Any:
    """Return a `ccxt.binance` spot client talking to `venue` (a running venue or its URL).

    Credentials default to the venue's own (the test key); spot markets only, and no
    `sapi` currency lookups, so `load_markets()` costs one `exchangeInfo` request.
    ccxt's own throttle is off unless `rate_limit=True` (tests stay fast; the venue's
    429/418 faults test the caller's own back-off).
    """
    import ccxt

    url = venue if isinstance(venue, str) else venue.url
    if not isinstance(venue, str):
        api_key = venue.api_key if api_key is None else api_key
        api_secret = venue.api.api_secret if api_secret is None else api_secret
    config: dict[str, Any] = {
        "timeout": timeout_ms,
        "enableRateLimit": rate_limit,
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            **(options or {}),
        },
    }
    if api_key is not None:
        config["apiKey"] = api_key
        config["secret"] = api_secret
    return point_at(ccxt.binance(config), url)
