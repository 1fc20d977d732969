"""A real `ccxt.binance` client pointed at a simulated venue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdesk.venue.venue import SimulatedVenue

__all__ = ["binance_client"]


def binance_client(
    venue: SimulatedVenue | str,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    timeout_ms: int = 10_000,
    rate_limit: bool = False,
) -> Any:
    """Return a default-configured `ccxt.binance` client talking to `venue` (a running venue or its URL).

    Built by `quantdesk.ingest.make_exchange`, the factory every `--venue` command uses, so
    tests make exactly the requests a named venue makes (margin pairs, currency configuration,
    futures exchangeInfo included). Credentials default to the venue's own (the test key).
    ccxt's own throttle is off unless `rate_limit=True` (tests stay fast; the venue's 429/418
    faults test the caller's own back-off).
    """
    from quantdesk.core.settings import VenueConfig
    from quantdesk.ingest.exchange import make_exchange

    url = venue if isinstance(venue, str) else venue.url
    if not isinstance(venue, str):
        api_key = venue.api_key if api_key is None else api_key
        api_secret = venue.api.api_secret if api_secret is None else api_secret
    credentials = (api_key, api_secret or "") if api_key is not None else None
    return make_exchange(VenueConfig(exchange="binance", api_url=url), timeout_ms=timeout_ms,
                         credentials=credentials, rate_limit=rate_limit)
