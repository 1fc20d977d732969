"""Which symbols a scheduled ingest run fetches (the `ingest` flow's plan), checked before any fetch."""

from __future__ import annotations

from typing import Any

from quantdesk.core.errors import ConfigError

__all__ = ["plan_ingest"]


def plan_ingest(venue: str, timeframe: str, symbols: list[str] | None = None, *, lake: Any = None,
                ledger: Any = None) -> list[str]:
    """Return the symbols to ingest from `venue` at `timeframe`; ConfigError on an unknown venue or timeframe.

    Explicit `symbols` must look like BASE/QUOTE. Without them: every symbol the lake holds from
    the venue at that timeframe, plus the symbols of running deployments whose data comes from it.
    """
    from quantdesk.core.timeframes import timeframe_ms
    from quantdesk.ingest.exchange import resolve_venue

    name, _config = resolve_venue(venue)  # ConfigError naming the configured venues
    timeframe_ms(timeframe)
    if symbols:
        bad = [s for s in symbols if "/" not in s or s.startswith("/") or s.endswith("/")]
        if bad:
            raise ConfigError(f"symbols {bad} are not BASE/QUOTE pairs; write e.g. BTC/USDT")
        return list(dict.fromkeys(symbols))
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.live.spec import RunSpec
    from quantdesk.promotion import DeploymentState, list_deployments

    lake = lake or Lake()
    found = [sym for ex, sym, tf in lake.series() if ex == name and tf == timeframe]
    own = ledger is None
    ledger = ledger or Ledger()
    try:
        for d in list_deployments(ledger):
            if d.state is DeploymentState.RUNNING and d.timeframe == timeframe \
                    and RunSpec.from_deployment(d).data_exchange == name:
                found += list(d.symbols)
    finally:
        if own:
            ledger.close()
    return list(dict.fromkeys(found))
