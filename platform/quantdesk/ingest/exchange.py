"""Build a ccxt client from a ccxt exchange id or a named venue in `quantdesk.toml`.

Shared with the broker: `make_exchange(venue_config)` is the one place that turns a
`VenueConfig` into a configured ccxt client (API URL override, sandbox, credentials
from environment variables — never logged).
"""

from __future__ import annotations

import difflib
import os
from typing import Any
from urllib.parse import urlsplit

import ccxt

from quantdesk.core.errors import ConfigError
from quantdesk.core.settings import VenueConfig, get_settings

__all__ = ["check_exchange_id", "make_exchange", "resolve_venue", "rewrite_api_urls"]


def check_exchange_id(exchange_id: str) -> str:
    """Return `exchange_id` if ccxt knows it, else raise ConfigError with the closest ids."""
    if exchange_id in ccxt.exchanges:
        return exchange_id
    close = difflib.get_close_matches(exchange_id.lower(), ccxt.exchanges, n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else "see `python -c 'import ccxt; print(ccxt.exchanges)'`"
    )
    raise ConfigError(f"unknown ccxt exchange id {exchange_id!r}: {hint}")


def resolve_venue(name_or_id: str) -> tuple[str, VenueConfig]:
    """Return `(name, config)` for a venue named in quantdesk.toml, else for a plain ccxt id.

    The name is what data is stored under in the lake (`exchange=<name>`): a venue's
    name when one is configured, else the ccxt id.
    """
    venues = get_settings().venues
    if name_or_id in venues:
        venue = venues[name_or_id]
        check_exchange_id(venue.exchange)
        return name_or_id, venue
    try:
        check_exchange_id(name_or_id)
    except ConfigError as e:
        known = f" or a configured venue ({', '.join(sorted(venues))})" if venues else ""
        raise ConfigError(
            f"{e}; --exchange takes a ccxt exchange id{known}; add a venue with `quantdesk venue add`"
        ) from None
    return name_or_id, VenueConfig(exchange=name_or_id)


def rewrite_api_urls(urls: Any, api_url: str) -> Any:
    """Return ccxt's `urls['api']` with every URL's scheme and host replaced by `api_url`.

    The path of each URL is kept (`https://api.binance.com/api/v3` becomes
    `<api_url>/api/v3`), so one simulated venue or proxy can serve every endpoint family.
    """
    if isinstance(urls, dict):
        return {key: rewrite_api_urls(value, api_url) for key, value in urls.items()}
    if isinstance(urls, list):
        return [rewrite_api_urls(value, api_url) for value in urls]
    if not isinstance(urls, str):
        return urls
    path = urlsplit(urls).path
    return api_url.rstrip("/") + path


def _env_secret(var: str | None, what: str, venue: VenueConfig) -> str | None:
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise ConfigError(
            f"the {what} for exchange {venue.exchange!r} comes from environment variable {var}, "
            f"which is not set: export {var}=... before running"
        )
    return value


def _stored_credentials(name: str, account: str) -> tuple[str, str] | None:
    from quantdesk.identity.keys import exchange_credentials
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        found = exchange_credentials(ledger, name, account)
    return None if found is None else (found[0].reveal(), found[1].reveal())


def make_exchange(
    venue: VenueConfig | str,
    *,
    timeout_ms: int | None = None,
    credentials: tuple[str, str] | None = None,
    rate_limit: bool = True,
    name: str | None = None,
    account: str = "default",
    pro: bool = False,
) -> ccxt.Exchange:
    """Return a synchronous ccxt client for `venue` (a VenueConfig, venue name or ccxt id).

    With `pro`, the async WebSocket client of `ccxt.pro` instead, configured the same way; its
    stream URLs move to the venue's `ws_url` when it has one (a simulated venue's streams).

    Rate limiting is on (ccxt `enableRateLimit`) unless `rate_limit=False`; `api_url`
    rewrites every entry of `exchange.urls['api']`; `sandbox` switches to the exchange's test
    environment; keys come from `credentials` (key, secret) when given, else from the
    environment variables the venue names, else from the keys stored encrypted for venue
    `name` and `account` (`quantdesk keys set`), decrypted here and nowhere else. Otherwise the client keeps ccxt's defaults, so
    what runs against the simulated venue is what runs against the exchange.
    """
    if isinstance(venue, str):
        name, venue = resolve_venue(venue)
    check_exchange_id(venue.exchange)
    config: dict[str, Any] = {"enableRateLimit": rate_limit}
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    if credentials is not None:
        keys: dict[str, str | None] = {"apiKey": credentials[0], "secret": credentials[1]}
    elif venue.key_env is None and name is not None and (stored := _stored_credentials(name, account)):
        keys = {"apiKey": stored[0], "secret": stored[1]}
    else:
        keys = {
            "apiKey": _env_secret(venue.key_env, "API key", venue),
            "secret": _env_secret(venue.secret_env, "API secret", venue),
            "password": _env_secret(venue.password_env, "API password", venue),
        }
    config.update({k: v for k, v in keys.items() if v})
    if pro:
        import ccxt.pro as ccxtpro

        if not hasattr(ccxtpro, venue.exchange):
            raise ConfigError(f"ccxt pro has no WebSocket client for {venue.exchange!r}; poll with `quantdesk ingest`")
        exchange: ccxt.Exchange = getattr(ccxtpro, venue.exchange)(config)
    else:
        exchange = getattr(ccxt, venue.exchange)(config)
    if venue.options:
        exchange.options.update(venue.options)
    if venue.sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported as e:
            raise ConfigError(
                f"exchange {venue.exchange!r} has no sandbox in ccxt; remove `sandbox` from the venue"
            ) from e
    streams = exchange.urls["api"].get("ws") if pro else None
    if venue.api_url:
        exchange.urls["api"] = rewrite_api_urls(exchange.urls["api"], venue.api_url)
    if streams is not None:  # REST moved to api_url; streams go to ws_url, else stay the exchange's own
        exchange.urls["api"]["ws"] = rewrite_api_urls(streams, venue.ws_url) if venue.ws_url else streams
    return exchange
