"""No label carries a user-typed string, and the contract stays within its cardinality budget."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from quantdesk.metrics import (
    CONTRACT,
    record_flow_run,
    record_login,
    record_notification,
    record_order,
    record_risk_check,
    render,
    scrape_registry,
)


def _labels() -> set[str]:
    text = render(scrape_registry()).decode()
    return {v for f in text_string_to_metric_families(text) for s in f.samples for v in s.labels.values()}


def test_free_text_becomes_other(fresh_metrics: None) -> None:
    record_order(venue="my venue; DROP TABLE", side="BUY", outcome="filled")
    record_risk_check(seconds=1e-5, denied_code="x" * 200)
    record_flow_run(flow="ingest", state="FAILED")
    record_notification(url_scheme="tgram", sent=True)
    record_notification(url_scheme="https://user:pw@host", sent=False)
    values = _labels()
    assert {"other", "buy", "failed", "tgram", "ingest"} <= values
    assert not any(" " in v or "pw" in v or len(v) > 64 for v in values), values


def test_logins_count_outcomes_never_names(fresh_metrics: None) -> None:
    record_login(accepted=False)
    record_login(accepted=True)
    assert {"accepted", "refused"} <= _labels()


def test_the_contract_names_follow_prometheus_conventions() -> None:
    for spec in CONTRACT:
        assert spec.name.startswith("quantdesk_") and not spec.name.endswith("_total"), spec.name
        if spec.kind == "histogram":
            assert spec.name.endswith("_seconds"), spec.name  # base unit
    assert len({s.name for s in CONTRACT}) == len(CONTRACT)
