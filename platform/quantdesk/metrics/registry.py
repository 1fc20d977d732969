"""This process's metric objects, built on first use, in memory or in multiprocess mode.

prometheus_client picks where a value lives when the metric object is created: a float in
memory, or (multiprocess mode) a slot in an mmap file named after the process id under a
shared directory, which an exporter merges at scrape time. Processes that come and go
(CLI commands, flow runs) and long-lived ones (runners, the dashboard server) record into
one directory, `$QUANTDESK_HOME/metrics`, so a single scrape sees the whole desk.
`enable_multiprocess` must therefore run before the first recording; it is called at the
start of the CLI's `main()` and of each flow run. Without it (a notebook, a library user,
in-process tests) values stay in this process's own registry.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantdesk.core.errors import ConfigError
from quantdesk.core.fsmodes import private_dir

from .contract import CONTRACT, Kind, MetricSpec

__all__ = [
    "DeskMetrics", "desk_metrics", "enable_multiprocess", "multiprocess_directory", "recording", "reset_for_tests",
    "set_recording",
]

ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable: child processes inherit it


@dataclass(frozen=True, slots=True)
class DeskMetrics:
    """The contract's metric objects (prometheus_client Counter/Gauge/Histogram) by name."""

    by_name: dict[str, Any]
    registry: Any  # the in-memory CollectorRegistry, or None in multiprocess mode
    directory: Path | None

    def __getitem__(self, name: str) -> Any:
        return self.by_name[name]


_lock = threading.Lock()
_current: DeskMetrics | None = None
_directory: Path | None = None
# QUANTDESK_METRICS=off turns every recording into a no-op (bench/order_path.py measures both ways)
_recording = os.environ.get("QUANTDESK_METRICS", "on").lower() not in ("off", "0", "false", "no")


def recording() -> bool:
    """Return whether record_* calls record (False: QUANTDESK_METRICS=off, or set_recording(False))."""
    return _recording


def set_recording(on: bool) -> None:
    """Turn recording on or off for this process."""
    global _recording
    _recording = on


def enable_multiprocess(directory: Path) -> None:
    """Record into `directory` (shared with every quantdesk process of this home) from now on.

    Call before the first recording; a later call for another directory is refused (the
    values already recorded live in the first one).
    """
    global _directory
    directory = Path(directory)
    with _lock:
        if _current is not None and _current.directory not in (None, directory):
            raise ConfigError(f"metrics already record into {_current.directory}; "
                              f"enable_multiprocess({directory}) must come before the first recording")
        if _current is not None and _current.directory is None:
            return  # already recording in memory (in-process use): keep one consistent view
        _directory = directory
        # children inherit the variable and prometheus_client opens files there at import time
        # (Prefect's worker does): the folder must exist before any child starts
        private_dir(directory)
        os.environ[ENV] = str(directory)


def multiprocess_directory() -> Path | None:
    """Return the directory this process records into (None: in memory)."""
    if _directory is not None:
        return _directory
    env = os.environ.get(ENV)
    return Path(env) if env else None


def desk_metrics() -> DeskMetrics:
    """Return this process's metric objects, creating them on first use."""
    current = _current
    if current is not None:
        return current
    return _build()


def _build() -> DeskMetrics:
    global _current
    from prometheus_client import CollectorRegistry, disable_created_metrics, values

    with _lock:
        if _current is not None:
            return _current
        disable_created_metrics()  # `_created` samples would double the series for nothing we alert on
        directory = multiprocess_directory()
        if directory is not None:
            private_dir(directory)
            os.environ[ENV] = str(directory)
            values.ValueClass = values.MultiProcessValue()
            registry = None
            pid = os.getpid()
            # a process that exits takes its live gauges with it (positions, equity, sessions);
            # its counters and histograms stay in the directory for the exporter to sum
            atexit.register(_mark_dead, pid, directory)
        else:
            values.ValueClass = values.MutexValue
            registry = CollectorRegistry(auto_describe=True)
        by_name = {spec.name: _make(spec, registry) for spec in CONTRACT if not spec.from_ledger}
        _current = DeskMetrics(by_name=by_name, registry=registry, directory=directory)
        return _current


def _make(spec: MetricSpec, registry: Any) -> Any:
    from prometheus_client import Counter, Gauge, Histogram

    kwargs: dict[str, Any] = {"registry": registry}
    if spec.kind is Kind.COUNTER:
        return Counter(spec.name, spec.help, spec.labels, **kwargs)
    if spec.kind is Kind.HISTOGRAM:
        return Histogram(spec.name, spec.help, spec.labels, buckets=spec.buckets, **kwargs)
    return Gauge(spec.name, spec.help, spec.labels, multiprocess_mode=spec.mode or "livesum", **kwargs)


def _mark_dead(pid: int, directory: Path) -> None:
    from prometheus_client import multiprocess

    if os.getpid() == pid and directory.is_dir():  # a forked child must not remove its parent's files
        multiprocess.mark_process_dead(pid, str(directory))


def reset_for_tests() -> None:
    """Forget this process's metric objects and directory (tests that switch modes)."""
    global _current, _directory
    from prometheus_client import values

    with _lock:
        _current = None
        _directory = None
        os.environ.pop(ENV, None)
        values.ValueClass = values.MutexValue
