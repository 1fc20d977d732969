"""Operations: the checks a desk runs on a schedule (the `monitor` flow is a thin wrapper)."""

from quantdesk.ops.monitor import Breach, MonitorReport, run_monitor

__all__ = ["Breach", "MonitorReport", "run_monitor"]
