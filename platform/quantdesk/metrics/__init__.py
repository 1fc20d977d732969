"""Prometheus metrics for the desk's machinery (DESIGN.md: `metrics` imports only `core`).

The contract (names, labels, units) is `quantdesk.metrics.contract`, listed in the README.
Layers call the `record_*` functions; exporters serve the merged view (`serve_metrics`).
"""

from .contract import CONTRACT, CONTRACT_VERSION, MetricSpec, OrderResult, TradingStateValue
from .exporter import (
    LedgerReading,
    MetricsServer,
    clean_directory,
    render,
    scrape_registry,
    serve_metrics,
)
from .record import (
    order_result,
    record_candle_age,
    record_dashboard_sessions,
    record_decision,
    record_fills,
    record_flow_run,
    record_lake_rows,
    record_login,
    record_notification,
    record_order,
    record_order_seconds,
    record_position,
    record_risk_check,
)
from .registry import (
    desk_metrics,
    enable_multiprocess,
    multiprocess_directory,
    recording,
    reset_for_tests,
    set_recording,
)

__all__ = [
    "CONTRACT", "CONTRACT_VERSION", "LedgerReading", "MetricSpec", "MetricsServer", "OrderResult",
    "TradingStateValue", "clean_directory", "desk_metrics", "enable_multiprocess", "multiprocess_directory",
    "order_result", "record_candle_age", "record_dashboard_sessions", "record_decision", "record_fills",
    "record_flow_run", "record_lake_rows", "record_login", "record_notification", "record_order",
    "record_order_seconds", "record_position", "record_risk_check", "recording", "render", "reset_for_tests",
    "scrape_registry", "serve_metrics", "set_recording",
]
