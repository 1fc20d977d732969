"""A real Dask cluster for tests: a `dask scheduler` and `dask worker` processes on this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dask_cluster(folder: Path, *, workers: int = 2, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a scheduler and `workers` single-threaded workers (logs in `folder`); yield its address.

    `env` is added to the processes' environment (e.g. the Prefect API and QUANTDESK_HOME a
    test's tasks need on the workers).
    """
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    commands = [[DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]]
    commands += [[DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                  "--memory-limit", "3GB", "--local-directory", str(folder / f"w{i}")] for i in range(workers)]
    environment = {**os.environ, **(env or {})}
    processes = []
    for i, command in enumerate(commands):
        with (folder / f"process{i}.log").open("w") as out:  # the child keeps its own copy of the file
            processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(workers, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
