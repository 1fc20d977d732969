"""The recordings outside the order path: flow runs (Prefect hooks), lake writes."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from quantdesk.metrics import render, scrape_registry


def _value(name: str, **labels: str) -> float:
    text = render(scrape_registry()).decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and s.labels == labels)


def test_flow_hooks_count_runs_by_flow_and_state(fresh_metrics: None) -> None:
    from quantdesk.ops.flow_hooks import notify_flow_failure, record_flow_completion

    flow = SimpleNamespace(name="ingest")
    run = SimpleNamespace(id="00000000-0000-0000-0000-000000000001", name="brave-otter", deployment_id=None)
    record_flow_completion(flow, run, SimpleNamespace(type="StateType.COMPLETED", message=None))
    record_flow_completion(flow, run, SimpleNamespace(type="StateType.COMPLETED", message=None))
    notify_flow_failure(flow, run, SimpleNamespace(type="StateType.FAILED", message="boom"))
    assert _value("quantdesk_flow_runs_total", flow="ingest", state="completed") == 2
    assert _value("quantdesk_flow_runs_total", flow="ingest", state="failed") == 1


def test_lake_writes_count_new_and_changed_rows(fresh_metrics: None) -> None:
    from quantdesk.lake import Lake
    from tests.live.conftest import candles

    frame = candles(30)
    lake = Lake()
    lake.write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    lake.write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")  # idempotent: nothing new
    assert _value("quantdesk_lake_rows_written_total", exchange="paper", timeframe="1m") == 30
