"""Reading the Prefect server's log: services started, the first error and its fix (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantdesk.ops.prefect_health import (
    first_error,
    read_log,
    server_logging_config,
    services_started,
)

STARTED = """\
19:15:14.964 | INFO    | prefect.server.services.perpetual_services - Scheduling perpetual service: schedule_deployments
19:15:14.966 | INFO    | prefect.server.services.perpetual_services - Perpetual services: 12 enabled, 3 disabled, 15 total
"""

# What Prefect 3.8.8's scheduler wrote on every loop with SQLAlchemy 2.1 (issue 22).
SCHEDULER_BROKEN = STARTED + """\
19:15:20.101 | ERROR   | prefect.server.services.scheduler - Unexpected error in: schedule_deployments
Traceback (most recent call last):
  File "/x/prefect/server/models/deployments.py", line 812, in _insert_scheduled_flow_runs
    await session.execute(insert_stmt)
  File "/x/sqlalchemy/orm/session.py", line 2351, in execute
    raise sa_exc.InvalidRequestError(
sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a bulk_dml decorated function
19:16:20.101 | ERROR   | prefect.server.services.scheduler - Unexpected error in: schedule_deployments
"""


def test_a_clean_start_up_has_its_services_and_no_error() -> None:
    assert services_started(STARTED)
    assert first_error(STARTED) is None
    assert not services_started(STARTED.splitlines()[1]), "the scheduler must be among the services"


def test_the_scheduler_failure_of_issue_22_is_reported_with_its_exception_and_fix() -> None:
    error = first_error(SCHEDULER_BROKEN)
    assert error is not None
    assert "Unexpected error in: schedule_deployments" in error.line
    assert error.exception is not None and error.exception.startswith("sqlalchemy.exc.InvalidRequestError")
    assert "make .venv/.installed" in error.fix
    summary = error.summary()
    assert "\n" not in summary and "bulk DML" in summary and "fix:" in summary


@pytest.mark.parametrize(("text", "expected"), [
    ("Traceback (most recent call last):\n  File \"x\", line 1\nOSError: [Errno 98] address already in use\n",
     "--port"),
    ("12:00:00.000 | CRITICAL | prefect.server - sqlite3.OperationalError: database is locked\n", "database"),
    ("ERROR:    Exception in ASGI application\n", "fix the cause"),
])
def test_every_error_form_is_found_and_gets_a_fix(text: str, expected: str) -> None:
    error = first_error(STARTED + text)
    assert error is not None and expected in error.fix


def test_warnings_and_words_like_error_in_messages_are_not_errors() -> None:
    text = STARTED + "19:15:30.000 | WARNING | prefect.server - retrying after error_count=1\n"
    assert first_error(text) is None


def test_read_log_starts_at_the_offset_of_this_start_up(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    assert read_log(log) == ""
    log.write_text(SCHEDULER_BROKEN)
    offset = log.stat().st_size
    with open(log, "a") as f:
        f.write(STARTED)
    assert first_error(read_log(log)) is not None, "the earlier start-up's error is in the whole log"
    assert first_error(read_log(log, offset)) is None and services_started(read_log(log, offset))


def test_the_server_logging_config_raises_only_the_services_logger(tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load(server_logging_config(tmp_path).read_text())
    assert config["loggers"]["prefect.server.services.perpetual_services"] == {"level": "INFO"}
    assert config["loggers"]["prefect.server"]["level"] == "${PREFECT_SERVER_LOGGING_LEVEL}"
    assert config["loggers"]["uvicorn"]["level"] == "${PREFECT_SERVER_LOGGING_LEVEL}"


def test_the_monitor_interval_comes_from_the_environment_then_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from quantdesk.core.errors import ConfigError
    from quantdesk.ops.prefect_ctl import monitor_interval_s

    monkeypatch.delenv("QUANTDESK_MONITOR_INTERVAL_S", raising=False)
    assert monitor_interval_s({}) is None
    assert monitor_interval_s({"monitor_interval_s": 60}) == 60
    monkeypatch.setenv("QUANTDESK_MONITOR_INTERVAL_S", "5")
    assert monitor_interval_s({"monitor_interval_s": 60}) == 5
    monkeypatch.setenv("QUANTDESK_MONITOR_INTERVAL_S", "soon")
    with pytest.raises(ConfigError, match="QUANTDESK_MONITOR_INTERVAL_S"):
        monitor_interval_s({})


def test_flows_status_says_when_the_next_run_is_due() -> None:
    from quantdesk.cli.flows import _when

    now = datetime(2026, 12, 7, 19, 30, tzinfo=UTC)
    assert _when(None, now) == "-"
    assert _when("2026-12-07T19:30:45+00:00", now) == "2026-12-07 19:30:45 UTC (in 45 s)"
    assert _when("2026-12-07T19:35:00+00:00", now) == "2026-12-07 19:35:00 UTC (in 5 min)"
    assert _when("2026-12-08T02:00:00+00:00", now) == "2026-12-08 02:00:00 UTC (in 6 h)"
    assert _when("2026-12-07T19:29:00+00:00", now).endswith("(due now)")


def test_up_stops_at_the_first_service_error_with_the_fix_in_one_line(tmp_path: Path) -> None:
    from quantdesk.ops.prefect_ctl import FlowsError, _wait_services

    log = tmp_path / "server.log"
    log.write_text(SCHEDULER_BROKEN)
    with pytest.raises(FlowsError) as raised:
        _wait_services(log, 0, timeout_s=5)
    message = str(raised.value)
    assert "\n" not in message and "bulk DML" in message and "make .venv/.installed" in message
    assert str(log) in message
    log.write_text(STARTED)
    _wait_services(log, 0, timeout_s=5)  # started, no error: returns
    log.write_text("")
    with pytest.raises(FlowsError, match="services did not start"):
        _wait_services(log, 0, timeout_s=0)


def test_a_heartbeat_prefect_retries_is_not_an_error_but_the_next_error_is() -> None:
    """SQLITE_BUSY on the worker channel's heartbeat (retried by Prefect) is skipped with its traceback."""
    from quantdesk.ops.prefect_health import first_error

    busy = ("21:05:57.327 | ERROR   | prefect.server.utilities.worker_channel - Worker channel heartbeat "
            "persistence failed: work_pool=quantdesk worker_name=w\n"
            "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
            "sqlite3.OperationalError: database is locked\n"
            "21:05:58.000 | INFO    | prefect.server - fine\n")
    assert first_error(busy) is None
    found = first_error(busy + "21:06:00.000 | ERROR   | prefect.server.services - Scheduler failed: boom\n")
    assert found is not None and "Scheduler failed: boom" in found.line
    other = busy.replace("sqlite3.OperationalError: database is locked", "ValueError: the channel's payload is bad")
    assert first_error(other) is not None, "a heartbeat failing for another reason still counts"
