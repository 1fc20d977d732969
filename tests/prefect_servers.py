"""Every test that starts a Prefect server reads its log when it stops: an ERROR or a traceback fails it.

A Prefect server answers /health while its services fail on every loop (issue 22: the
scheduler broke on a SQLAlchemy bump and no test noticed), so a green test run must also mean
a clean server log. Two kinds of server start here:
- `quantdesk flows up` (the e2e tests): it logs to `$QUANTDESK_HOME/prefect/server.log`;
  call `assert_server_log_clean` on that after `flows down`.
- Prefect's own `prefect_test_harness` (flows run in-process): `logged_test_harness` starts it
  with the server's output in a file and checks that file when the harness stops.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from quantdesk.ops.prefect_health import first_error, read_log

__all__ = ["assert_server_log_clean", "logged_test_harness"]


def assert_server_log_clean(log: Path) -> None:
    """Fail with the first error (and the log's tail) when the server log holds an ERROR or a traceback."""
    text = read_log(log)
    error = first_error(text)
    if error is not None:
        tail = "\n".join(text.splitlines()[-40:])
        raise AssertionError(f"the Prefect server logged an error: {error.summary()}\n--- {log} (tail) ---\n{tail}")


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Point this process's stdout/stderr file descriptors at `log` for what it spawns meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


@contextmanager
def logged_test_harness(log: Path, server_startup_timeout: int = 120) -> Iterator[None]:
    """Prefect's `prefect_test_harness`, its server's output in `log`; fail if that log has an error at the end.

    The harness's server inherits the test process's stdout and stderr (pytest's capture
    otherwise); they point at `log` only while the harness starts the server, so the server
    writes there and the test's own output is unaffected.
    """
    from prefect.testing.utilities import prefect_test_harness

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # offline: nothing phones home
    log.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        with _output_to(log):
            stack.enter_context(prefect_test_harness(server_startup_timeout=server_startup_timeout))
        yield
    assert_server_log_clean(log)
