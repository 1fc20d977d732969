"""The exporter's side: merge the processes' files, add what the ledger knows, serve it over HTTP.

Every exporter (`quantdesk metrics serve`, `quantdesk run --metrics-port`, the dashboard
server's `/metrics`) serves the same merged view of `$QUANTDESK_HOME/metrics`; scrape one
of them per home. Each exporter's start-up cleans the directory of what processes that are
gone left behind before it (their counters reset, which `rate()` and `increase()` expect
across restarts); while it runs, a process that exits keeps its counters in the sum and
loses its live gauges (at its exit, or at the next scrape when it was killed).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import CONTRACT, CONTRACT_VERSION
from .registry import desk_metrics, multiprocess_directory

__all__ = ["LedgerReading", "MetricsServer", "clean_directory", "render", "scrape_registry", "serve_metrics"]

_PID = re.compile(r"_(\d+)\.db$")
_LIVE = re.compile(r"^gauge_live\w+_(\d+)\.db$")
_HELP = {spec.name: spec.help for spec in CONTRACT}


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerReading:
    """What the exporter reads from the ledger at each scrape."""

    trading_states: dict[str, int] = field(default_factory=dict)  # scope -> 0 active, 1 reducing, 2 halted
    outbox_pending: int = 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def clean_directory(directory: Path) -> int:
    """Remove the files of processes that are no longer running (an exporter's start-up); return how many."""
    directory.mkdir(parents=True, exist_ok=True)
    removed = 0
    for path in directory.glob("*.db"):
        match = _PID.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _drop_dead_live_gauges(directory: Path) -> None:
    """A killed process never ran its exit hook: drop its live gauges at scrape time instead."""
    from prometheus_client import multiprocess

    for path in directory.glob("gauge_live*.db"):
        match = _LIVE.match(path.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), str(directory))


class _DeskCollector:
    """The contract's version, and the ledger's trading states and outbox backlog at scrape time."""

    def __init__(self, read_ledger: Callable[[], LedgerReading] | None, directory: Path | None) -> None:
        self.read_ledger = read_ledger
        self.directory = directory

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

        if self.directory is not None:
            _drop_dead_live_gauges(self.directory)
        info = InfoMetricFamily("quantdesk_metrics_contract", "The metric contract's version (README, Metrics).")
        info.add_metric([], {"version": CONTRACT_VERSION})
        yield info
        if self.read_ledger is None:
            return
        reading = self.read_ledger()
        states = GaugeMetricFamily("quantdesk_trading_state", _HELP["quantdesk_trading_state"], labels=["scope"])
        for scope, value in sorted(reading.trading_states.items()):
            states.add_metric([scope], value)
        yield states
        yield GaugeMetricFamily("quantdesk_outbox_pending", _HELP["quantdesk_outbox_pending"],
                                value=reading.outbox_pending)


def scrape_registry(read_ledger: Callable[[], LedgerReading] | None = None) -> Any:
    """Return a registry whose collection is the merged view (or this process's own, in memory)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = multiprocess_directory()
    registry = CollectorRegistry(auto_describe=False)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        MultiProcessCollector(registry, path=str(directory))
    else:
        registry.register(_InMemory())
    registry.register(_DeskCollector(read_ledger, directory))
    return registry


class _InMemory:
    """This process's in-memory metrics, as a collector of the scrape registry."""

    def collect(self) -> Iterator[Any]:
        own = desk_metrics().registry
        if own is not None:
            yield from own.collect()


def render(registry: Any) -> bytes:
    """Return the registry's text exposition (Prometheus format 0.0.4)."""
    from prometheus_client import generate_latest

    return generate_latest(registry)


@dataclass(slots=True)
class MetricsServer:
    """A running exporter: its address, and `close()` to stop it."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(*, port: int, host: str = "127.0.0.1",
                  read_ledger: Callable[[], LedgerReading] | None = None, clean: bool = True) -> MetricsServer:
    """Serve `/metrics` on `host:port` from a daemon thread; clean the directory first (`clean`)."""
    from prometheus_client import start_http_server

    directory = multiprocess_directory()
    if clean and directory is not None:
        clean_directory(directory)
    server, thread = start_http_server(port, addr=host, registry=scrape_registry(read_ledger))
    return MetricsServer(host=host, port=server.server_address[1], _server=server, _thread=thread)
