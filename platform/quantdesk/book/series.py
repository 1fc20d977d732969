"""The desk's daily VaR series: stored by the monitor, backtested, and a `var_breach` when it fails.

Once a UTC day the monitor stores the desk's 1-day VaR and ES (`[risk.var]` method, confidence and
window) for that day with the positions it was computed on (ledger table `var_series`). When the
day has closed in the lake, the realised P&L of those positions over it (quantity times the day's
close-to-close move: the "hypothetical" P&L of Basel's backtesting) is filled in, the day is an
exception if the loss exceeded the VaR, and the last 250 evaluated days are backtested. An
exception, or a traffic-light zone different from the previous day's (once the series is long enough
to leave a day in the tail: 100 days at 99 %), raises a `var_breach`: a risk event (code VAR_BREACH)
and an audit entry whose message the outbox delivers.
`quantdesk risk var-backtest` reads the same series (`--source ledger`), or recomputes a rolling
VaR of today's book over the lake's history (`--source lake`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from quantdesk.book.book import load_book
from quantdesk.book.history import daily_series
from quantdesk.book.var import measure_book
from quantdesk.core.errors import QuantdeskError, RiskError

__all__ = ["BACKTEST_DAYS", "VarBacktestReport", "VarMonitorReport", "backtest_report", "monitor_var"]

BACKTEST_DAYS = 250  # Basel's backtesting window


@dataclass(frozen=True, slots=True, kw_only=True)
class VarMonitorReport:
    """What one monitor run did with the VaR series."""

    stored: str | None = None  # the day stored now
    evaluated: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    zone: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VarBacktestReport:
    """A VaR series against the realised P&L: exceptions, POF, Christoffersen and the zone."""

    scope: str
    source: str
    method: str
    confidence: float
    observations: int
    exceptions: int
    expected_exceptions: float
    pof: dict[str, float]
    christoffersen: dict[str, Any]
    zone: str
    cumulative_probability: float
    days: tuple[dict[str, Any], ...] = field(default=())
    note: str = ""


def _close_on(lake: Any, exchange: str, symbol: str, day: date) -> tuple[float, float] | None:
    """The closes of the day before `day` and of `day`, or None when the lake does not hold both yet."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    try:
        s = daily_series(lake, exchange, symbol, start=start, end=start + timedelta(days=2))
    except QuantdeskError:
        return None
    closes = dict(zip(s.days, s.closes, strict=True))
    prev, this = closes.get(day - timedelta(days=1)), closes.get(day)
    return None if prev is None or this is None else (float(prev), float(this))


def _realised(lake: Any, positions: list[dict[str, Any]], day: date) -> float | None:
    total = 0.0
    for p in positions:
        closes = _close_on(lake, p["exchange"], p["symbol"], day)
        if closes is None:
            return None
        total += float(p["qty"]) * (closes[1] - closes[0])
    return total


def _backtest(var: list[float], pnl: list[float], confidence: float) -> Any:
    from quantdesk.risk.analytics import backtest_var

    return backtest_var(np.asarray(var), np.asarray(pnl), confidence)


def _event(ledger: Any, kind: str, detail: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = {"kind": kind, "detail": detail, **payload}
    ledger.record_risk_event(code="VAR_BREACH", detail=detail, deployment=None, symbol=None, approved=False)
    ledger.audit("monitor", "risk.var_breach", body)  # its message goes out through the outbox
    return body


def monitor_var(ledger: Any, lake: Any, now: datetime, settings: Any = None, scope: str = "desk") -> VarMonitorReport:
    """Evaluate the closed days of the desk's VaR series, raise `var_breach` events, store today's VaR."""
    from quantdesk.ledger.var_series import record_var, record_var_outcome, var_rows
    from quantdesk.risk import RiskConfig
    from quantdesk.risk.analytics import minimum_observations

    cfg = RiskConfig.from_settings(settings).var_settings
    today = now.date()
    rows = var_rows(ledger, scope, method=cfg.method)
    done = [r for r in rows if r.evaluated_at is not None]
    var_history = [float(r.var_quote) for r in done]
    pnl_history = [float(r.pnl_quote) for r in done if r.pnl_quote is not None]
    events: list[dict[str, Any]] = []
    evaluated: list[str] = []
    zone = done[-1].zone if done else None
    for row in rows:
        day = date.fromisoformat(row.day)
        if row.evaluated_at is not None or day >= today:
            continue
        pnl = _realised(lake, row.positions, day)
        if pnl is None:
            break  # the lake has not closed this day yet: evaluate it (and the later ones) next time
        var = float(row.var_quote)
        var_history.append(var)
        pnl_history.append(pnl)
        test = _backtest(var_history[-BACKTEST_DAYS:], pnl_history[-BACKTEST_DAYS:], float(row.confidence))
        new_zone = test.traffic_light.zone.value
        exception = pnl < -var
        record_var_outcome(ledger, row.id, pnl_quote=pnl, exception=exception, zone=new_zone, at=now)
        evaluated.append(row.day)
        payload = {"scope": scope, "day": row.day, "var_quote": var, "pnl_quote": pnl, "zone": new_zone,
                   "exceptions": test.exceptions, "observations": test.observations}
        if exception:
            events.append(_event(ledger, "exception", f"{scope} lost {-pnl:,.2f} on {row.day}, more than its "
                                 f"{float(row.confidence):.4g} VaR of {var:,.2f} ({test.exceptions} exceptions in "
                                 f"{test.observations} days, zone {new_zone})", payload))
        # a zone over fewer days than leave one in the tail is no verdict yet: no zone event until then
        ready = test.observations - 1 >= minimum_observations(float(row.confidence))
        if zone is not None and ready and new_zone != zone:
            events.append(_event(ledger, "zone", f"{scope} VaR backtest moved from {zone} to {new_zone} "
                                 f"({test.exceptions} exceptions in {test.observations} days)", payload))
        zone = new_zone
    stored, note = None, ""
    if not any(r.day == today.isoformat() for r in rows):
        try:
            book = load_book(ledger, lake, history_days=cfg.window_days + 15, settings=settings)
            result = measure_book(book, method=cfg.method, confidence=cfg.confidence, window_days=cfg.window_days)
        except RiskError as e:  # no positions, or history missing: nothing stored, and said why
            note = str(e)
        else:
            _, written = record_var(
                ledger, scope=scope, day=today.isoformat(), as_of=result.as_of.isoformat() if result.as_of else "",
                method=cfg.method, confidence=cfg.confidence, window_days=cfg.window_days,
                observations=result.observations, var_quote=result.var_quote, es_quote=result.es_quote,
                gross_quote=result.gross_quote, at=now,
                positions=[{k: p[k] for k in ("venue", "exchange", "symbol", "qty", "price")} for p in result.positions])
            stored = today.isoformat() if written else None
    return VarMonitorReport(stored=stored, evaluated=tuple(evaluated), events=tuple(events), zone=zone, note=note)


def _summary(scope: str, source: str, method: str, confidence: float, days: list[dict[str, Any]]) -> VarBacktestReport:
    test = _backtest([d["var_quote"] for d in days], [d["pnl_quote"] for d in days], confidence)
    c = test.christoffersen
    return VarBacktestReport(
        scope=scope, source=source, method=method, confidence=confidence, observations=test.observations,
        exceptions=test.exceptions, expected_exceptions=test.expected,
        pof={"statistic": test.pof.statistic, "p_value": test.pof.p_value},
        christoffersen={"n00": c.n00, "n01": c.n01, "n10": c.n10, "n11": c.n11,
                        "independence": {"statistic": c.independence.statistic, "p_value": c.independence.p_value},
                        "conditional_coverage": {"statistic": c.conditional_coverage.statistic,
                                                 "p_value": c.conditional_coverage.p_value}},
        zone=test.traffic_light.zone.value, cumulative_probability=test.traffic_light.cumulative_probability,
        days=tuple(days))


def backtest_report(ledger: Any, lake: Any = None, *, deployment: str | None = None, source: str = "ledger",
                    days: int = BACKTEST_DAYS, method: str | None = None, confidence: float | None = None,
                    window_days: int | None = None, settings: Any = None) -> VarBacktestReport:
    """Backtest the stored VaR series (`ledger`) or a rolling VaR of today's book (`lake`)."""
    from quantdesk.ledger.var_series import var_rows
    from quantdesk.risk import RiskConfig

    cfg = RiskConfig.from_settings(settings).var_settings
    method, confidence = method or cfg.method, confidence or cfg.confidence
    window_days = window_days or cfg.window_days
    scope = "desk" if deployment is None else f"deployment:{deployment}"
    if source == "ledger":
        rows = [r for r in var_rows(ledger, scope, method=method) if r.evaluated_at is not None][-days:]
        if not rows:
            raise RiskError(f"no evaluated days of the {scope} VaR series ({method}) in the ledger yet: the monitor "
                            "stores one a day; use --source lake for a rolling backtest of today's book")
        series = [{"day": r.day, "var_quote": float(r.var_quote), "pnl_quote": float(r.pnl_quote),
                   "exception": bool(r.exception)} for r in rows]
        return _summary(scope, source, method, float(rows[-1].confidence), series)
    if source != "lake":
        raise RiskError(f"unknown source {source!r}; use ledger (the stored series) or lake (rolling)")
    from quantdesk.risk.analytics import minimum_observations

    book = load_book(ledger, lake, deployment=deployment, history_days=window_days + days + 15, settings=settings)
    exposures = book.exposures
    need = minimum_observations(confidence)  # the first backtested day needs a full tail before it
    feasible = min(len(book.days) - need, len(book.days))
    if feasible < 1:
        raise RiskError(f"the lake holds {len(book.days)} days of returns for this book; a rolling backtest at "
                        f"{confidence:.4g} needs more than {need}: ingest more history or lower --confidence")
    used = min(days, feasible)
    series = []
    for day, row in zip(book.days[-used:], book.returns[-used:], strict=True):
        result = measure_book(book, method=method, confidence=confidence, window_days=window_days,
                              as_of=day - timedelta(days=1))
        pnl = float(sum(x * row[c] for x, c in zip(exposures, book.column, strict=True)))
        series.append({"day": day.isoformat(), "var_quote": result.var_quote, "pnl_quote": pnl,
                       "exception": pnl < -result.var_quote})
    report = _summary(scope, source, method, confidence, series)
    if used < days:
        return replace(report, note=f"{used} of the {days} days asked: the lake's history allows no more")
    return report
