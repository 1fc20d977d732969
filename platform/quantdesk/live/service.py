"""Build and run the runner of a registered deployment (what `quantdesk run` does).

Paper deployments trade the `PaperBroker` on live data (candles from the configured venue
when there is one, else the lake as it is); live deployments trade the `CcxtBroker` of the
venue named in quantdesk.toml. Both go through the `GatedBroker` with the deployment's risk
configuration; progress and state go to the promotion registry; SIGTERM stops after the
current bar.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from datetime import datetime
from typing import Any

from quantdesk.core.clock import Clock
from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import ConfigError, PromotionError, QuantdeskError
from quantdesk.core.types import Stage
from quantdesk.live.feed import VenueCandles
from quantdesk.live.market import LakeMarket
from quantdesk.live.runner import BarOutcome, Runner
from quantdesk.live.schedule import clock_from_env
from quantdesk.live.spec import RunSpec

__all__ = ["build_runner", "run_deployment"]


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def build_runner(ledger: Any, name: str, *, clock: Clock | None = None, notifier: Any = None,
                 lake: Any = None, exchange: Any = None, settings: Any = None, stream: bool = False) -> Runner:
    """Return a ready (not started) `Runner` for deployment `name`; PromotionError when it may not run.

    `exchange` (a ccxt client) overrides the venue configured in quantdesk.toml. With `stream`,
    bar closes come from the venue's WebSocket stream (ccxt pro), REST filling whatever it lacks.
    """
    from quantdesk.broker import CcxtBroker, GatedBroker, PaperBroker
    from quantdesk.core.settings import get_settings
    from quantdesk.promotion import (
        check_pinned,
        get_deployment,
        record_runner_progress,
        risk_config_for,
    )
    from quantdesk.risk import RiskGate

    settings = settings or get_settings()
    clock = clock or clock_from_env()
    deployment = get_deployment(ledger, name)
    if deployment.stage not in (Stage.PAPER, Stage.LIVE):
        raise PromotionError(
            f"deployment {name!r} is at stage {deployment.stage.value}; only paper and live deployments run "
            f"(promote it with `quantdesk promote ... --to paper --name {name}`)")
    venue_config = settings.venues.get(deployment.venue)
    if exchange is None and venue_config is not None:
        from quantdesk.ingest import make_exchange

        exchange = make_exchange(venue_config, name=deployment.venue, account=deployment.account)
    if deployment.stage is Stage.LIVE:
        if exchange is None:
            raise ConfigError(f"live deployment {name!r} trades on venue {deployment.venue!r}, which is not in "
                              "quantdesk.toml; add it with `quantdesk venue add`")
        broker: Any = CcxtBroker(exchange, name=deployment.venue, clock=clock, symbols=deployment.symbols)
    else:
        broker = PaperBroker(name=deployment.venue, clock=clock, cost_model=deployment.cost,
                             rules=dict(deployment.rules))
    spec = RunSpec.from_deployment(deployment)
    if deployment.stage is Stage.PAPER and spec.account == "default":
        # A paper runner's broker is its own simulated account, in this process only: in the ledger
        # it must be an account of its own too, or every paper deployment on the venue would
        # reconcile against the others' orders and fills.
        spec = replace(spec, account=paper_account(name))
    if spec.market == "futures":  # the account trades the perpetual at the deployment's leverage
        for symbol in spec.symbols:
            broker.set_leverage(symbol, int(spec.leverage))
    rules = dict(spec.rules)
    if isinstance(broker, CcxtBroker):
        for symbol in spec.symbols:
            if rules.get(symbol, MarketRules()) == MarketRules():
                found = broker.market_rules(symbol)
                if found is not None:
                    rules[symbol] = found
        spec = replace(spec, rules=rules)
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    # In production messages go through the outbox (run_deployment's OutboxSender); a notifier
    # handed in (tests, notebooks) is also called directly, as before.
    from quantdesk.book import gate_var_source

    gate = RiskGate(risk_config_for(deployment, settings), clock, ledger,
                    var_model=gate_var_source(ledger, lake, settings, clock))  # max_desk_var_pct and per deployment
    gated = GatedBroker(broker, ledger, gate, venue=deployment.venue, account=spec.account,
                        notifier=notifier, clock=clock, actor=f"runner:{name}", market_rules=rules)
    # with a venue, new closed bars come from it into the market's memory; the lake gets them after the orders
    updater: Any = None
    if exchange is not None:
        updater = VenueCandles(exchange, timeframe=spec.timeframe, clock=clock, history_bars=4 * _window(spec) + 10)
        if stream:
            if venue_config is None:
                raise ConfigError(f"--stream needs venue {deployment.venue!r} in quantdesk.toml (`quantdesk venue add`)")
            from quantdesk.live.stream import StreamedCandles

            updater = StreamedCandles(deployment.venue, updater, symbols=list(spec.symbols), timeframe=spec.timeframe,
                                      clock=clock)
    market = LakeMarket(lake, exchange=spec.data_exchange, symbols=spec.symbols, timeframe=spec.timeframe,
                        updater=updater)

    def progress(**fields: Any) -> None:
        record_runner_progress(ledger, name, actor=f"runner:{name}", **fields)

    return Runner(spec, ledger=ledger, gated=gated, market=market, clock=clock, notifier=notifier,
                  pin_check=lambda: check_pinned(get_deployment(ledger, name)), progress=progress,
                  actor=f"runner:{name}")


def _window(spec: RunSpec) -> int:
    return int(spec.window_bars or 100)


def paper_account(deployment: str) -> str:
    """The ledger account a paper deployment's simulated broker trades in (one per deployment)."""
    return f"paper:{deployment}"


def run_deployment(ledger: Any, name: str, *, once: bool = False, stop: threading.Event | None = None,
                   handle_sigterm: bool = True, on_bar: Any = None,
                   hold: Callable[[], AbstractContextManager[Any]] | None = None, **build: Any) -> list[BarOutcome]:
    """Start deployment `name` (reconcile first), process bar closes until stopped, record the state.

    With `handle_sigterm`, SIGTERM sets the stop flag: the current bar finishes, then this returns.
    The deployment's runner lease is held throughout (LeaseHeldError when another runner has it);
    `hold()` (e.g. a Prefect concurrency slot) is entered after the lease and held as long.
    """
    from quantdesk.core.settings import get_settings
    from quantdesk.live.notifications import OutboxSender, desk_notifier
    from quantdesk.promotion import DeploymentState, get_deployment, record_runner_progress

    stop = stop or threading.Event()
    previous = None
    if handle_sigterm and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    actor = f"runner:{name}"
    from quantdesk.live.lease import RunnerLease

    # exactly one runner per deployment: a second start fails here, before it reconciles or trades;
    # a restart after a crash waits (one lease period at most) for the dead runner's lease to lapse
    lease = RunnerLease(ledger, name, stop=stop)
    stack = ExitStack()
    try:
        lease.acquire()
        if hold is not None:
            stack.enter_context(hold())
        runner = build_runner(ledger, name, **build)
        try:
            runner.start()
        except QuantdeskError as e:
            record_runner_progress(ledger, name, state=DeploymentState.FAILED, detail=str(e)[:500], actor=actor)
            raise
        record_runner_progress(ledger, name, state=DeploymentState.RUNNING, detail="", actor=actor)
        resume = _ms(get_deployment(ledger, name).last_bar_ts)
        sender = OutboxSender(ledger, desk_notifier(ledger), runner.clock, routed=True,
                              templates=(get_settings().notify or {}).get("templates") or {}).start()
        try:
            outcomes = runner.run(once=once, stop=stop, resume_after_ms=resume, on_bar=on_bar)
        finally:
            sender.stop()
            close = getattr(getattr(runner.market, "updater", None), "close", None)
            if close is not None:  # a stream's thread and socket
                close()
        record_runner_progress(ledger, name, state=DeploymentState.STOPPED,
                               detail="stopped after --once" if once else "stopped (SIGTERM or stop request)",
                               actor=actor)
        return outcomes
    finally:
        stack.close()
        if lease.held:
            lease.release()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

