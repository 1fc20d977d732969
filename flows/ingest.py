"""Prefect flow: fetch candles into the lake (thin orchestration over `quantdesk.ingest`)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from quantdesk.core.timeframes import parse_time
from quantdesk.ingest import ingest


@task(name="ingest-symbol", retries=0)
def ingest_symbol(
    exchange: str, symbol: str, timeframe: str, since: str, until: str | None = None
) -> dict[str, Any]:
    """Ingest one symbol; network retries happen inside `quantdesk.ingest`, not here."""
    from quantdesk.cli._common import to_jsonable

    [report] = ingest(exchange, [symbol], timeframe, since, until)
    return to_jsonable(report)


@flow(name="ingest")
def ingest_flow(
    exchange: str,
    symbols: list[str],
    timeframe: str = "1m",
    since: str = "2024-01-01",
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Fetch `symbols` from `exchange` (ccxt id or venue name) into the lake; one task per symbol."""
    parse_time(since)  # fail fast on a bad date, before any task runs
    reports = [ingest_symbol(exchange, symbol, timeframe, since, until) for symbol in symbols]
    logger = get_run_logger()
    for report in reports:
        logger.info(
            "%s %s %s: fetched %s, inserted %s",
            report["exchange"],
            report["symbol"],
            report["timeframe"],
            report["fetched"],
            report["inserted"],
        )
    return reports


if __name__ == "__main__":
    ingest_flow("binance", ["BTC/USDT"])
