"""Desk reports on the monitor's schedule: the daily one once a day, the weekly one on Mondays."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["scheduled_desk_reports"]

log = logging.getLogger(__name__)


def scheduled_desk_reports(ledger: Any, *, now: Any = None, reports_dir: Path | None = None,
                           pdf: bool = True) -> list[Path]:
    """Write today's daily report (and on Mondays the weekly one) unless already written; return new files."""
    from quantdesk.core.settings import get_settings
    from quantdesk.reports.desk import write_desk_report

    now = now or ledger._now()
    root = (reports_dir or get_settings().reports_dir) / "desk"
    due = ["daily"] + (["weekly"] if now.weekday() == 0 else [])
    written = []
    for period in due:
        if any(root.glob(f"{period}-{now:%Y-%m-%d}.html")):
            continue
        try:
            report = write_desk_report(ledger, period=period, now=now, pdf=pdf, reports_dir=reports_dir,
                                       actor="monitor")
        except Exception:  # a broken report must not stop the monitor's checks; the next run retries
            log.exception("the %s desk report could not be written", period)
            continue
        written.append(report.pdf or report.html)
    return written
