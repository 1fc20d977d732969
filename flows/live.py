"""Prefect flow: run one promoted deployment live or on paper (thin over `quantdesk.live`).

The same `Runner` as `quantdesk run NAME`, as a long-running flow (its task, `run-deployment`). Exactly one runner per
deployment: the ledger's runner lease (taken first) plus the Prefect global concurrency limit
`live-<deployment>` of 1. An exception in the runner is retried by Prefect (task retries;
bad input such as an unknown deployment fails at once, without retries);
a run whose process died is put back to AwaitingRetry by the monitor flow. Either way the
new attempt takes the lease, reconciles with the venue before its first order, and derives
the same client order ids, so no order is ever sent twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from quantdesk.ops.flow_hooks import notify_flow_failure, record_flow_completion


def _limit(name: str) -> None:
    """Create the global concurrency limit `name` (1 slot) if it does not exist yet."""
    from prefect.client.orchestration import get_client

    from quantdesk.ops.prefect_ctl import ensure_limit

    with get_client(sync_client=True) as client:
        ensure_limit(client, name, 1)


def _retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Retry what a new attempt can fix (a venue outage, a disagreement that reconciles); never bad input."""
    from quantdesk.core.errors import ConfigError, PromotionError

    try:
        state.result()
    except (ConfigError, PromotionError):  # unknown deployment, wrong stage, another runner holds the lease
        return False
    except Exception:  # noqa: BLE001
        return True
    return False


@task(name="run-deployment", retries=3, retry_delay_seconds=20, retry_condition_fn=_retryable,
      cache_policy=NO_CACHE, persist_result=False)
def run_runner(deployment: str) -> dict[str, Any]:
    """The runner itself (a task so that Prefect retries it, with no result caching: ids decide duplicates)."""
    from prefect.concurrency.sync import concurrency

    from quantdesk.ledger import Ledger
    from quantdesk.live.schedule import clock_from_env
    from quantdesk.live.service import run_deployment

    logger = get_run_logger()
    clock = clock_from_env()
    limit = f"live-{deployment}"
    _limit(limit)
    with Ledger(clock=clock) as ledger:

        def on_bar(outcome: Any) -> None:
            if outcome.ok:
                logger.info("%s targets %s, %d orders", outcome.bar_ts.isoformat(), outcome.targets,
                            len(outcome.orders))
            else:
                logger.warning("%s no orders: %s: %s", outcome.bar_ts.isoformat(), outcome.skipped, outcome.detail)

        outcomes = run_deployment(ledger, deployment, clock=clock, on_bar=on_bar,
                                  hold=lambda: concurrency(limit, occupy=1, lease_duration=60, strict=True))
    return {"deployment": deployment, "bars": len(outcomes),
            "orders": sum(len(o.orders) for o in outcomes)}


@flow(name="live", on_failure=[notify_flow_failure], on_crashed=[notify_flow_failure],
      on_completion=[record_flow_completion], persist_result=False)
def live_flow(deployment: str) -> dict[str, Any]:
    """Run `deployment` (a paper or live one) until it is stopped; see the module doc."""
    from quantdesk.core.errors import PromotionError
    from quantdesk.core.types import Stage
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import get_deployment

    with Ledger() as ledger:
        found = get_deployment(ledger, deployment)  # unknown name: fails here, naming the known ones
    if found.stage not in (Stage.PAPER, Stage.LIVE):
        raise PromotionError(f"deployment {deployment!r} is at stage {found.stage.value}; only paper and live "
                             "deployments run (promote it first)")
    get_run_logger().info("starting %s (%s) on %s", deployment, found.stage.value, found.venue)
    return run_runner(deployment)


if __name__ == "__main__":
    import sys

    live_flow(sys.argv[1])
