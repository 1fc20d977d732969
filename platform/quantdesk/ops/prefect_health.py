"""Read the local Prefect server's log: did its services start, and did any of them fail?

The server answers `/health` even while every loop of its scheduler fails (a Prefect release
that does not work with the installed SQLAlchemy did exactly that: no schedule ever fired and
nothing said so). So `flows up` also reads the log the server writes under
`$QUANTDESK_HOME/prefect/server.log`: the start-up line of its services, and the first error
(an ERROR/CRITICAL record or a traceback) with the fix for the causes we know. The tests read
the same log with the same functions when they stop a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SERVICES_LOGGER", "ServerLogError", "first_error", "read_log", "server_logging_config",
           "services_started"]

# The Prefect logger whose INFO lines say which services the server scheduled at start-up.
SERVICES_LOGGER = "prefect.server.services.perpetual_services"
_SERVICES = re.compile(r"Perpetual services: (\d+) enabled")
_SCHEDULER = "Scheduling perpetual service: schedule_deployments"
# Prefect's format is "HH:MM:SS.mmm | ERROR   | logger - message"; uvicorn's own is "ERROR:    message".
_ERROR_RECORD = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\||^(ERROR|CRITICAL):")
_TRACEBACK = "Traceback (most recent call last)"

# (what the error says, the fix) — the first match wins; the last one is the general advice.
_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sqlalchemy|bulk DML|aiosqlite|alembic", re.I),
     "Prefect's server does not work with the installed database libraries: reinstall the locked "
     "environment (`make .venv/.installed`), then `quantdesk flows down && quantdesk flows up`"),
    (re.compile(r"database is locked", re.I),
     "another process holds the Prefect database: `quantdesk flows down`, stop any other Prefect server "
     "of this QUANTDESK_HOME, then `quantdesk flows up`"),
    (re.compile(r"address already in use|Errno 98", re.I),
     "the port is taken: `quantdesk flows down`, then `quantdesk flows up --port` with a free port"),
)
# Records Prefect retries by itself and that stop nothing: the worker channel's heartbeat write
# on SQLite can meet SQLITE_BUSY on a read-to-write upgrade, which busy_timeout does not wait out
# (seen on a loaded 2-core machine); the next heartbeat, seconds later, writes it. Skipped with
# their traceback; any other error record still counts.
_TRANSIENT = ((re.compile(r"Worker channel heartbeat persistence failed"), re.compile(r"database is locked")),)
_RECORD_START = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \|")
_GENERAL_FIX = "fix the cause the log shows, then `quantdesk flows down && quantdesk flows up`"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLogError:
    """The first error in a server log: its line, the exception that ended its traceback, the fix."""

    line: str
    exception: str | None
    fix: str

    def summary(self) -> str:
        """One line: the error (and its exception when that says more) and the fix."""
        said = self.line if not self.exception or self.exception in self.line else f"{self.line} ({self.exception})"
        return f"{said}; fix: {self.fix}"


def read_log(path: Path, offset: int = 0) -> str:
    """The log's text from byte `offset` (what one start-up wrote); empty when there is no log."""
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def services_started(text: str) -> bool:
    """True when the log says the server scheduled its services, the deployment scheduler among them."""
    return bool(_SERVICES.search(text)) and _SCHEDULER in text


def _exception_after(lines: list[str], start: int) -> str | None:
    """The exception line that ends a traceback beginning within two lines of `start` (its first unindented line)."""
    for i in range(start, min(start + 3, len(lines))):
        if _TRACEBACK in lines[i]:
            for line in lines[i + 1:]:
                if line.strip() and not line.startswith((" ", "\t")):
                    return line.strip()
            return None
    return None


def first_error(text: str) -> ServerLogError | None:
    """The first ERROR/CRITICAL record or traceback in `text`, with its fix; None when there is none."""
    lines = text.splitlines()
    skipping = False
    for i, line in enumerate(lines):
        if _RECORD_START.match(line):  # the record's line says what failed, its traceback's end why
            skipping = any(what.search(line) and why.search(f"{line}\n{_exception_after(lines, i) or ''}")
                           for what, why in _TRANSIENT)
        if skipping:
            continue
        if _ERROR_RECORD.search(line) or _TRACEBACK in line:
            exception = _exception_after(lines, i)
            said = line.strip() if _TRACEBACK not in line else (exception or line.strip())
            cause = f"{said}\n{exception or ''}"
            fix = next((fix for pattern, fix in _FIXES if pattern.search(cause)), _GENERAL_FIX)
            return ServerLogError(line=said, exception=exception, fix=fix)
    return None


def server_logging_config(home: Path) -> Path:
    """Write Prefect's default logging config plus INFO for the services' start-up lines; return its path.

    Only that one logger is raised: at INFO the whole server (or its scheduler) writes a line
    every few seconds, and uvicorn's access log one per request.
    """
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config: dict[str, Any] = yaml.safe_load(Path(DEFAULT_LOGGING_SETTINGS_PATH).read_text())
    config.setdefault("loggers", {})[SERVICES_LOGGER] = {"level": "INFO"}
    path = home / "server-logging.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `quantdesk flows up`: Prefect's default plus the services' start-up lines\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path
