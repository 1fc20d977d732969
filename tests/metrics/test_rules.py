"""The shipped Prometheus files: rules and config are valid, and every alert has a promtool unit test."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from .conftest import REPO, need

MONITORING = REPO / "monitoring" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("promtool"), *args], cwd=MONITORING, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("args", [("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml"),
                                  ("test", "rules", "alerts.test.yml")])
def test_promtool_accepts_the_shipped_files(args: tuple[str, ...]) -> None:
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_summary_a_runbook_and_a_unit_test() -> None:
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules}
    assert len(alerts) >= 7
    for rule in rules:
        assert rule["annotations"].get("summary") and rule["annotations"].get("runbook"), rule["alert"]
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())["tests"]
    firing = {case["alertname"] for t in tests for case in t["alert_rule_test"] if case.get("exp_alerts")}
    assert alerts <= firing, f"alerts without a test that makes them fire: {sorted(alerts - firing)}"


def test_the_rules_use_only_contract_metrics() -> None:
    """A renamed metric would leave an alert that never fires: every quantdesk_ name in the rules is exported."""
    import re

    from quantdesk.metrics import CONTRACT

    exported = set()
    for spec in CONTRACT:
        base = spec.name + ("_total" if spec.kind == "counter" else "")
        exported |= {base, f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    used = set(re.findall(r"quantdesk_[a-z_]+", (MONITORING / "alerts.yml").read_text()))
    assert used <= exported, f"not in the contract: {sorted(used - exported)}"
