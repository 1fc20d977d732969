"""Build the gated broker of a configured venue (manual orders from the CLI and the dashboard)."""

from __future__ import annotations

from typing import Any

__all__ = ["open_gated"]


def open_gated(venue_name: str, *, actor: str, settings: Any = None, ledger: Any = None) -> Any:
    """Return a `GatedBroker` for venue `venue_name` of quantdesk.toml: ccxt client, ledger, risk gate.

    Without `ledger` a new one is opened and the caller owns it (`with gated.ledger:`); with
    one, the broker uses it and its clock. Call `start()` (reconcile) before submitting. There
    is no direct notifier: every order event is audited and its message goes through the outbox,
    delivered later, never twice.
    """
    from quantdesk.broker import CcxtBroker, GatedBroker
    from quantdesk.core.clock import SystemClock
    from quantdesk.core.errors import ConfigError
    from quantdesk.core.settings import get_settings
    from quantdesk.ingest.exchange import make_exchange
    from quantdesk.ledger import Ledger
    from quantdesk.risk import RiskConfig, RiskGate

    settings = settings or get_settings()
    venue = settings.venues.get(venue_name)
    if venue is None:
        known = ", ".join(sorted(settings.venues)) or "none yet"
        raise ConfigError(f"unknown venue {venue_name!r} (configured: {known}); add one with `quantdesk venue add`")
    clock = ledger._clock if ledger is not None else SystemClock()
    ledger = ledger if ledger is not None else Ledger(clock=clock)
    broker = CcxtBroker(make_exchange(venue, name=venue_name), name=venue_name, clock=clock)
    from quantdesk.book import gate_var_source

    # the desk's VaR model for max_desk_var_pct (built on the first check that needs it)
    gate = RiskGate(RiskConfig.from_settings(settings), clock, ledger,
                    var_model=gate_var_source(ledger, settings=settings, clock=clock))
    return GatedBroker(broker, ledger, gate, venue=venue_name, clock=clock, actor=actor)
