"""The metric contract, version 1: every name, type, label and help text quantdesk exports.

Prometheus conventions: base units (seconds), `_total` counters, a handful of closed label
sets. The README lists this table; a change to a name or a label is a new CONTRACT_VERSION
(exported as `quantdesk_metrics_contract_info{version}`), so dashboards and alerts can tell.
Cardinality budget: 20 deployments x 20 symbols stays within 2,000 series (bench/metrics.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CONTRACT", "CONTRACT_VERSION", "Kind", "MetricSpec", "OrderResult", "TradingStateValue"]

CONTRACT_VERSION = "1"


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class OrderResult(StrEnum):
    """The `outcome` label of quantdesk_orders_total: what the venue (or the gate) answered."""

    FILLED = "filled"
    OPEN = "open"
    REJECTED = "rejected"
    DENIED = "denied"
    FAILED = "failed"


class TradingStateValue:
    """quantdesk_trading_state's values (a gauge holds numbers, the README maps them)."""

    ACTIVE = 0
    REDUCING = 1
    HALTED = 2


# Order round trips run milliseconds to seconds; the risk check microseconds; decisions and
# candle ages seconds. Bucket edges in seconds (base unit).
ORDER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
RISK_BUCKETS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1)
DECISION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """One exported metric. `name` is without `_total` for counters (prometheus_client adds it).

    `mode` is prometheus_client's multiprocess_mode for gauges: `livesum`/`livemax` drop a
    process's value when it exits (a runner that stopped holds no position any more).
    `from_ledger`: the ledger is the truth (a halt typed by a CLI command that exited at once
    must still read 2), so the exporter reads it at each scrape instead of a process recording it.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    mode: str = ""
    from_ledger: bool = False  # read from the ledger by the exporter at scrape time, not recorded


CONTRACT: tuple[MetricSpec, ...] = (
    MetricSpec(name="quantdesk_orders", kind=Kind.COUNTER, labels=("venue", "side", "outcome"),
               help="Order intents by venue, side and outcome (filled, open, rejected, denied, failed)."),
    MetricSpec(name="quantdesk_fills", kind=Kind.COUNTER, labels=("venue",), help="Fills recorded in the ledger."),
    MetricSpec(name="quantdesk_order_seconds", kind=Kind.HISTOGRAM, labels=("venue",), buckets=ORDER_BUCKETS,
               help="Intent written to the ledger -> venue answer written, in seconds."),
    MetricSpec(name="quantdesk_risk_check_seconds", kind=Kind.HISTOGRAM, buckets=RISK_BUCKETS,
               help="Time the risk gate takes to decide on one order intent, in seconds."),
    MetricSpec(name="quantdesk_risk_denials", kind=Kind.COUNTER, labels=("code",),
               help="Order intents the risk gate denied, by denial code."),
    MetricSpec(name="quantdesk_trading_state", kind=Kind.GAUGE, labels=("scope",), from_ledger=True,
               help="Trading state per scope: 0 active, 1 reducing, 2 halted."),
    MetricSpec(name="quantdesk_decision_seconds", kind=Kind.HISTOGRAM, labels=("deployment",),
               buckets=DECISION_BUCKETS, help="Bar close -> order handed to the risk gate, in seconds."),
    MetricSpec(name="quantdesk_candle_age_seconds", kind=Kind.GAUGE, labels=("exchange", "symbol", "timeframe"),
               mode="livemax", help="Age of the newest closed candle of a series a running deployment uses."),
    MetricSpec(name="quantdesk_position_notional", kind=Kind.GAUGE, labels=("deployment", "symbol"),
               mode="livesum", help="A running deployment's position at the last close, in quote currency."),
    MetricSpec(name="quantdesk_equity", kind=Kind.GAUGE, labels=("deployment",), mode="livesum",
               help="A running deployment's equity at the last close, in quote currency."),
    MetricSpec(name="quantdesk_outbox_pending", kind=Kind.GAUGE, from_ledger=True,
               help="Notifications written to the ledger's outbox and not delivered yet."),
    MetricSpec(name="quantdesk_notifications", kind=Kind.COUNTER, labels=("channel_scheme", "status"),
               help="Notification deliveries by channel URL scheme and status (sent, failed)."),
    MetricSpec(name="quantdesk_flow_runs", kind=Kind.COUNTER, labels=("flow", "state"),
               help="Prefect flow runs that ended, by flow and final state."),
    MetricSpec(name="quantdesk_lake_rows_written", kind=Kind.COUNTER, labels=("exchange", "timeframe"),
               help="Candle rows written to the lake."),
    MetricSpec(name="quantdesk_dashboard_sessions", kind=Kind.GAUGE, mode="livesum",
               help="Open dashboard sessions."),
    MetricSpec(name="quantdesk_logins", kind=Kind.COUNTER, labels=("outcome",),
               help="Dashboard logins by outcome (accepted, refused)."),
)
