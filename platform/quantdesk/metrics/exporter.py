"""The exporter's side: merge the processes' files, add what the ledger knows, serve it over HTTP.

Every exporter (`quantdesk metrics serve`, `quantdesk run --metrics-port`, the dashboard
server's `/metrics`) serves the same merged view of `$QUANTDESK_HOME/metrics`; scrape one
of them per home. Each exporter's start-up cleans the directory of what processes that are
gone left behind before it (their counters reset, which `rate()` and `increase()` expect
across restarts); while it runs, a process that exits keeps its counters in the sum and
loses its live gauges (at its exit, or at the next scrape when it was killed).

Every CLI command leaves a file or two; merged at each scrape, hundreds of them would make the
scrape slow. So a scrape that finds more than COMPACT_AFTER exited processes' counter and
histogram files sums them into one `<type>_archive.db` per type and removes them (under a
lock: several exporters may share the directory).
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.core.fsmodes import private_dir

from .contract import CONTRACT, CONTRACT_VERSION
from .registry import desk_metrics, multiprocess_directory

__all__ = ["LedgerReading", "MetricsServer", "clean_directory", "compact_directory", "render", "scrape_registry",
           "serve_metrics"]

_PID = re.compile(r"_(\d+)\.db$")
_LIVE = re.compile(r"^gauge_live\w+_(\d+)\.db$")
_HELP = {spec.name: spec.help for spec in CONTRACT}
COMPACT_AFTER = 8  # exited processes' files merged at each scrape before they are folded into the archive
_ARCHIVED = ("counter", "histogram")  # summable: a dead process's values add up (gauges of the dead go)


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


class _DirectoryLock:
    """flock on the directory's lock file: exclusive to remove or fold files, shared to merge them."""

    def __init__(self, directory: Path, *, exclusive: bool) -> None:
        self.path, self.mode = directory / ".lock", fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        self._file: Any = None

    def __enter__(self) -> None:
        self._file = open(self.path, "a")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self._file, self.mode)

    def __exit__(self, *exc: object) -> None:
        self._file.close()  # releases the lock


def clean_directory(directory: Path) -> int:
    """Remove the files of processes that are no longer running (an exporter's start-up); return how many."""
    private_dir(directory)
    with _DirectoryLock(directory, exclusive=True):
        return _clean(directory)


def _clean(directory: Path) -> int:
    removed = 0
    for path in directory.glob("*.db"):
        match = _PID.search(path.name)
        if (match and not _alive(int(match.group(1)))) or path.name.endswith("_archive.db"):
            path.unlink(missing_ok=True)  # the archive holds only exited processes' values: it goes too
            removed += 1
    return removed


def compact_directory(directory: Path, *, after: int = COMPACT_AFTER) -> int:
    """Fold exited processes' counter and histogram files into one archive per type; return files folded."""
    from prometheus_client.mmap_dict import MmapedDict

    dead = [p for p in directory.glob("*.db") if p.name.split("_", 1)[0] in _ARCHIVED
            and (m := _PID.search(p.name)) and not _alive(int(m.group(1)))]
    if len(dead) <= after:
        return 0
    with _DirectoryLock(directory, exclusive=True):  # another exporter of this home may be merging them
        folded = 0
        for kind in _ARCHIVED:
            files = [p for p in dead if p.name.startswith(kind + "_") and p.exists()]
            if not files:
                continue
            archive = directory / f"{kind}_archive.db"
            totals: dict[str, float] = {}
            for path in ([archive] if archive.exists() else []) + files:
                for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
                    totals[key] = totals.get(key, 0.0) + value
            temporary = directory / f".{kind}_archive.tmp"  # not *.db: the collector never reads half of it
            new = MmapedDict(str(temporary))
            for key, value in totals.items():
                new.write_value(key, value, 0.0)
            new.close()
            os.replace(temporary, archive)  # the sums and the files they came from: the files go right after
            for path in files:
                path.unlink(missing_ok=True)
            folded += len(files)
        return folded


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

    directory = multiprocess_directory()
    registry = CollectorRegistry(auto_describe=False)
    if directory is not None:
        private_dir(directory)
        registry.register(_Merged(directory))
    else:
        registry.register(_InMemory())
    registry.register(_DeskCollector(read_ledger, directory))
    return registry


class _Merged:
    """prometheus_client's merge of the directory's files, after dropping the dead's live gauges and folding
    exited processes' files into the archive, under the directory's shared lock (no fold mid-merge)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterator[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        _drop_dead_live_gauges(self.directory)
        compact_directory(self.directory)
        with _DirectoryLock(self.directory, exclusive=False):
            metrics = list(MultiProcessCollector.merge([str(p) for p in self.directory.glob("*.db")]))
        # libraries in our processes (Prefect's event clients) record with prometheus_client too, and the
        # inherited PROMETHEUS_MULTIPROC_DIR sends theirs here: the scrape shows the contract's only
        yield from (m for m in metrics if m.name.startswith("quantdesk_"))


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
