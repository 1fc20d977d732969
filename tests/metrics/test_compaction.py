"""Exited processes' files are folded into one archive: the same sums, fewer files to merge per scrape."""

from __future__ import annotations

import subprocess
from pathlib import Path

from prometheus_client import Counter, Histogram, values
from prometheus_client.parser import text_string_to_metric_families

from quantdesk.metrics import (
    clean_directory,
    enable_multiprocess,
    render,
    reset_for_tests,
    scrape_registry,
)
from quantdesk.metrics.exporter import COMPACT_AFTER


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _record_as(pid: int, orders: int) -> None:
    """Write what an exited CLI process would have left: its orders and one order round trip."""
    values.ValueClass = values.MultiProcessValue(lambda: pid)
    Counter("quantdesk_orders", "Orders.", ["venue", "side", "outcome"], registry=None).labels(
        "sim", "buy", "filled").inc(orders)
    Histogram("quantdesk_order_seconds", "Round trips.", ["venue"], buckets=(0.1, 1.0), registry=None).labels(
        "sim").observe(0.05)
    values.close_all_multiprocess_files()


def _totals(text: str) -> tuple[float, float, float]:
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in text_string_to_metric_families(text) for s in f.samples}
    return (found[("quantdesk_orders_total", (("outcome", "filled"), ("side", "buy"), ("venue", "sim")))],
            found[("quantdesk_order_seconds_count", (("venue", "sim"),))],
            found[("quantdesk_order_seconds_bucket", (("le", "+Inf"), ("venue", "sim")))])


def test_exited_processes_fold_into_an_archive_with_the_same_sums(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    processes = COMPACT_AFTER + 4
    try:
        reset_for_tests()
        enable_multiprocess(directory)  # sets PROMETHEUS_MULTIPROC_DIR, where the values below are written
        for i in range(processes):
            _record_as(_dead_pid(), orders=i + 1)
        assert len(list(directory.glob("*.db"))) == 2 * processes
        registry = scrape_registry()
        expected = (processes * (processes + 1) / 2, processes, processes)
        assert _totals(render(registry).decode()) == expected  # this scrape folded them first
        assert sorted(p.name for p in directory.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]
        _record_as(_dead_pid(), orders=100)  # one more exits later: merged beside the archive
        assert _totals(render(registry).decode()) == (expected[0] + 100, processes + 1, processes + 1)
        foreign = _dead_pid()
        values.ValueClass = values.MultiProcessValue(lambda: foreign)  # a library's own counter (Prefect's clients)
        Counter("prefect_events_total", "Not ours.", registry=None).inc()
        values.close_all_multiprocess_files()
        assert "prefect_events" not in render(registry).decode()
        assert clean_directory(directory) == 5  # an exporter's start-up: both archives and the exited files go
        assert list(directory.glob("*.db")) == []
    finally:
        reset_for_tests()
