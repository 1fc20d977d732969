"""Title and body of each event type, as Jinja2 templates; `[notify.templates.EVENT]` overrides them.

A template sees the event's payload as variables (e.g. `scope`, `state`, `reason`, `actor`
for a halt) plus `event_type` and `count` (for digests, `events`: the payloads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, StrictUndefined, TemplateError, Undefined

from quantdesk.core.errors import ConfigError

__all__ = ["DEFAULT_TEMPLATES", "render"]

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "halt": ("HALTED {{ scope }}", "Trading halted on {{ scope }} by {{ actor }}: {{ reason }}"),
    "resume": ("Trading resumed on {{ scope }}", "{{ actor }} resumed trading on {{ scope }} ({{ reason }})"),
    "trading_state": ("{{ scope }} is {{ state }}", "{{ actor }} set {{ scope }} to {{ state }}: {{ reason }}"),
    "denial": ("Order denied: {{ code }}", "{{ side }} {{ qty }} {{ symbol }} on {{ venue }} denied: {{ code }} {{ detail }}"),
    "fill": ("Filled: {{ side }} {{ qty }} {{ symbol }}", "Order {{ client_order_id }} on {{ venue }}: {{ status }}"),
    "order_rejected": ("Order rejected by {{ venue }}", "Order {{ client_order_id }}: {{ error }}"),
    "order_in_flight": ("Order unanswered on {{ venue }}", "Order {{ client_order_id }} awaits a lookup: {{ error }}"),
    "promotion_requested": ("Live promotion requested: {{ deployment }}",
                            "{{ actor }} asks to take {{ deployment }} live; another trader or admin must approve"),
    "promotion_approved": ("{{ deployment }} approved for live", "{{ actor }} approved {{ deployment }}"),
    "promotion_rejected": ("{{ deployment }} rejected", "{{ actor }} rejected {{ deployment }}: {{ reason }}"),
    "promotion_refused": ("Promotion refused: {{ deployment }}", "Gates failed for {{ deployment }}"),
    "login_refused": ("Refused login for {{ user }}", "A wrong password was given for {{ user }} via {{ via }}"),
    "login_locked": ("Logins locked for {{ user or address }}",
                     "{{ failures }} refused logins via {{ via }}: {{ user or address }} is locked until {{ until }}"),
    "reconcile": ("Reconciliation on {{ venue }} needs attention",
                  "agreed: {{ agreed }}; adopted: {{ adopted }}; unresolved: {{ unresolved }}"),
    "monitor_breach": ("{{ code }}{% if deployment %} on {{ deployment }}{% endif %}", "{{ detail }}"),
    "var_breach": ("VaR breach: {{ scope }} ({{ kind }})", "{{ detail }}"),
    "runner_skip": ("{{ deployment }}: no orders ({{ code }})", "{{ detail }} (bar {{ bar_ts }})"),
    "flow_failed": ("Flow run {{ flow_run }} {{ state }}", "{{ flow }} ({{ deployment or 'no deployment' }}) ended "
                    "{{ state }}: {{ message }}"),
    "flow_restarted": ("Restarted {{ flow_run }}", "{{ flow }} run {{ flow_run }} was {{ reason }}; restart {{ attempt }}"),
    "runner_restarted": ("Runner of {{ deployment }} restarted", "{{ actor }} took over from {{ previous_holder }}"),
    "data_quarantined": ("{{ rows }} rows quarantined: {{ exchange }} {{ symbol }} {{ timeframe }}", "{{ detail }}"),
    "daily_pnl": ("Daily PnL {{ date }}: {{ '%.2f' % total_cash_flow }}",
                  "{{ fills }} fills, {{ risk_events }} risk events.{% for d in deployments %}\n- {{ d.deployment }}: "
                  "{{ '%.2f' % d.cash_flow }}{% endfor %}\nReport: {{ report }}"),
    "weekly_report": ("Weekly report {{ date }}: {{ '%.2f' % total_cash_flow }}",
                      "{{ fills }} fills, {{ risk_events }} risk events. Report: {{ report }}"),
    "test": ("quantdesk test message", "If you read this, the channel works."),
    "arb_opportunity": ("Arbitrage {{ '%.2f' % (edge_bps | float) }} bps: {{ kind }}",
                        "{{ summary }} for {{ size }} {{ size_currency }} (books {{ book_age_ms }} ms old); "
                        "not traded: the scanner never sends orders"),
}
_DIGEST = ("{{ count }} {{ event_type }} events", "{% for e in events[:10] %}- {{ e.get('code') or e.get('state') or e.get('client_order_id') or e.get('summary') or e }}\n{% endfor %}{% if count > 10 %}... and {{ count - 10 }} more{% endif %}")

_ENV = Environment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)
_STRICT = Environment(autoescape=False, undefined=StrictUndefined)


def _templates(event_type: str, overrides: Mapping[str, Mapping[str, str]] | None) -> tuple[str, str]:
    title, body = DEFAULT_TEMPLATES.get(event_type, ("{{ event_type }}", "{{ payload }}"))
    custom = (overrides or {}).get(event_type) or {}
    return custom.get("title", title), custom.get("body", body)


def render(event_type: str, payload: Mapping[str, Any], overrides: Mapping[str, Mapping[str, str]] | None = None,
           *, events: list[Mapping[str, Any]] | None = None) -> tuple[str, str]:
    """Return (title, body) of one event, or of a digest of `events` of one type."""
    title, body = _DIGEST if events is not None else _templates(event_type, overrides)
    variables = {**payload, "event_type": event_type, "payload": dict(payload),
                 "events": events or [], "count": len(events or [])}
    try:
        return _ENV.from_string(title).render(variables).strip(), _ENV.from_string(body).render(variables).strip()
    except TemplateError as e:
        raise ConfigError(f"the notification template for {event_type!r} is broken ({e}); fix [notify.templates.{event_type}]") from e


def check_templates(overrides: Mapping[str, Mapping[str, str]]) -> None:
    """Raise ConfigError naming the first override that does not parse."""
    for event_type, parts in overrides.items():
        for part in ("title", "body"):
            if part in parts:
                try:
                    _STRICT.parse(parts[part])
                except TemplateError as e:
                    raise ConfigError(f"[notify.templates.{event_type}] {part} does not parse ({e})") from e
