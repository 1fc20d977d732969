"""Prefect flow: fetch candles into the lake (thin orchestration over `quantdesk.ingest`).

A scheduled deployment runs it per venue and timeframe. Without `symbols` it keeps up what
the lake already holds for that venue and timeframe, plus the symbols of running deployments
that trade there; each symbol resumes after its newest stored candle. Runs against one venue
share the Prefect global concurrency limit `venue-<venue>` (created by `quantdesk flows up`),
so all schedules together stay inside the exchange's rate limit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from quantdesk.ops.flow_hooks import notify_flow_failure, record_flow_completion


@task(name="ingest-symbol", retries=0, cache_policy=NO_CACHE)
def ingest_symbol(venue: str, symbol: str, timeframe: str, since: str, until: str | None = None) -> dict[str, Any]:
    """Ingest one symbol; network retries happen inside `quantdesk.ingest`, not here."""
    from quantdesk.core.jsonable import to_jsonable
    from quantdesk.ingest import ingest

    [report] = ingest(venue, [symbol], timeframe, since, until)
    return to_jsonable(report)


@flow(name="ingest", on_failure=[notify_flow_failure], on_crashed=[notify_flow_failure],
      on_completion=[record_flow_completion])
def ingest_flow(
    venue: str = "binance",
    timeframe: str = "1m",
    symbols: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Fetch `symbols` (default: those the lake and running deployments follow) from `venue` into the lake."""
    from quantdesk.core.clock import SystemClock
    from quantdesk.core.timeframes import parse_time
    from quantdesk.ops.ingest_plan import plan_ingest

    logger = get_run_logger()
    plan = plan_ingest(venue, timeframe, symbols)  # unknown venue, timeframe or symbol: fails here
    if not plan:
        logger.info("nothing to ingest for %s %s: the lake holds none of its candles and no running deployment "
                    "trades there; pass symbols=[...] once to start a series", venue, timeframe)
        return []
    if since is not None:
        parse_time(since)  # fail fast on a bad date, before any task runs
    # a new series starts a day back; a stored one resumes after its newest candle anyway
    start = since or (SystemClock().now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    with concurrency(f"venue-{venue}", occupy=1):
        reports = [ingest_symbol(venue, symbol, timeframe, start, until) for symbol in plan]
    from quantdesk.ops.data_events import record_quarantined

    record_quarantined(reports, actor="flow:ingest")  # people hear about rejected rows
    for report in reports:
        logger.info("%s %s %s: fetched %s, inserted %s", report["exchange"], report["symbol"],
                    report["timeframe"], report["fetched"], report["inserted"])
    return reports


if __name__ == "__main__":
    ingest_flow("binance", "1m", ["BTC/USDT"])
