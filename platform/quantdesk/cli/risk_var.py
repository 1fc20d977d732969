"""`quantdesk risk var`, `risk stress`, `risk var-backtest`: what the desk can lose (issue 25).

The figures come from `quantdesk.book` (positions from the ledger, returns from the lake) and
`quantdesk.risk.analytics` (the definitions are in its docstring). Defaults come from `[risk.var]`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.risk import risk_app
from quantdesk.cli.tables import Col, WideOption, print_table

DeploymentOption = Annotated[str | None, typer.Option("--deployment", help="This deployment's book only.")]
DeskOption = Annotated[bool, typer.Option("--desk", help="The whole desk's book (the default).")]
MethodOption = Annotated[str | None, typer.Option(
    "--method", help="historical, gaussian, cornish-fisher, filtered-historical or monte-carlo "
                     "(default: [risk.var] method).")]
ConfidenceOption = Annotated[float | None, typer.Option("--confidence", help="In (0.5, 1), e.g. 0.99 (default: [risk.var]).")]
WindowOption = Annotated[str | None, typer.Option("--window", help="Days of returns, e.g. 365d (default: [risk.var]).")]


def _days(window: str | None) -> int | None:
    if window is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*d?\s*", window)
    if not found or int(found.group(1)) < 1:
        from quantdesk.core.errors import RiskError

        raise RiskError(f"window {window!r} is not a number of days; write it like 365d")
    return int(found.group(1))


def _scope(deployment: str | None, desk: bool) -> str | None:
    if deployment is not None and desk:
        from quantdesk.core.errors import RiskError

        raise RiskError("give --deployment NAME or --desk, not both")
    return deployment


def _defaults() -> Any:
    from quantdesk.risk import RiskConfig

    return RiskConfig.from_settings().var_settings


def _open() -> Any:
    from quantdesk.cli.risk import _open_ledger

    return _open_ledger()


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


@risk_app.command("var")
@handle_errors
def var(
    deployment: DeploymentOption = None,
    desk: DeskOption = False,
    method: MethodOption = None,
    confidence: ConfidenceOption = None,
    horizon: Annotated[str, typer.Option("--horizon", help="1d or 10d (10d: overlapping 10-day returns for "
                                                          "historical, the square root of time elsewhere).")] = "1d",
    window: WindowOption = None,
    by: Annotated[str | None, typer.Option("--by", help="Contributions by deployment, venue, asset or position "
                                                        "(default: deployment for the desk, asset for one).")] = None,
    volatility_filter: Annotated[str, typer.Option("--filter", help="filtered-historical: ewma or garch.")] = "ewma",
    distribution: Annotated[str, typer.Option("--distribution", help="monte-carlo: normal or t.")] = "normal",
    paths: Annotated[int, typer.Option("--paths", help="monte-carlo: number of draws.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="monte-carlo: the generator's seed (reruns are identical).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Value at risk and expected shortfall of the current book, with contributions that add up.

    Positions from the ledger, revalued under each day of the window's returns of their assets
    (daily closes built from the lake's finest stored bars), in the quote currency.

    Example: quantdesk risk var --desk --method historical --confidence 0.99 --horizon 1d --window 365d --json
    """
    from quantdesk.book import book_var_report

    cfg = _defaults()
    name = _scope(deployment, desk)
    with _open() as ledger:
        report = book_var_report(ledger, deployment=name, method=method or cfg.method,
                                 confidence=confidence or cfg.confidence, horizon=horizon,
                                 window_days=_days(window) or cfg.window_days, by=by,
                                 volatility_filter=volatility_filter, distribution=distribution, paths=paths, seed=seed)
    payload = report.to_json()
    if json_output:
        emit(payload)
        return
    share = f" ({payload['var_pct_of_equity']:.2f} % of equity)" if payload["var_pct_of_equity"] is not None else ""
    console.print(f"{report.scope}: {report.horizon} {report.confidence:.4g} {report.method} VaR "
                  f"[bold]{report.var_quote:,.2f}[/]{share}, ES {report.es_quote:,.2f} "
                  f"({report.var:.2%} and {report.es:.2%} of gross {report.gross_quote:,.2f}); "
                  f"{report.observations} observations to {report.as_of}", highlight=False)
    print_table(console, [Col(report.by, 0), Col("VaR", 0, "right"), Col("ES", 0, "right")],
                [[c.name, _money(c.var_quote), _money(c.es_quote)] for c in report.contributions])


@risk_app.command("stress")
@handle_errors
def stress(
    scenario: Annotated[str | None, typer.Option("--scenario", help="One scenario by name.")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Every scenario (the default).")] = False,
    deployment: DeploymentOption = None,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Stress tests: built-in crashes replayed from the lake and [[risk.scenarios]] shocks.

    Each scenario gives the P&L per position and for the desk, and for perpetuals whether the
    position would be liquidated (Binance's tiers, as the futures backtest) and the margin lost.

    Example: quantdesk risk stress --scenario alt-crash --json
    """
    from quantdesk.book import stress_report
    from quantdesk.core.errors import RiskError

    if scenario is not None and run_all:
        raise RiskError("give --scenario NAME or --all, not both")
    with _open() as ledger:
        reports = stress_report(ledger, scenario=scenario, deployment=deployment)
    if json_output:
        emit({"scenarios": reports})
        return
    rows = []
    for r in reports:
        liquidated = f"[bold red]{r.liquidations}[/]" if r.liquidations else "0"
        rows.append([r.scenario, r.kind, _money(r.pnl_quote) if r.available else "unavailable", liquidated,
                     _money(r.margin_lost_quote), r.detail])
    print_table(console, [Col("scenario", 0), Col("kind", 2), Col("desk P&L", 0, "right"),
                          Col("liquidations", 1, "right"), Col("margin lost", 2, "right"), Col("detail", 3, wrap_at=60)],
                rows, wide=wide)
    for r in reports:
        for p in r.positions:
            if p["liquidated"]:
                console.print(f"[bold red]LIQUIDATED[/] {r.scenario}: {p['symbol']} {p['qty']:g} on {p['venue']} "
                              f"({p['deployment']}) at {p['liquidation_price']:.6g}, margin lost "
                              f"{p['margin_lost_quote']:,.2f}", highlight=False)


@risk_app.command("var-backtest")
@handle_errors
def var_backtest(
    deployment: DeploymentOption = None,
    desk: DeskOption = False,
    source: Annotated[str, typer.Option("--source", help="ledger: the VaR series the monitor stored; lake: a "
                                                         "rolling VaR of today's book.")] = "ledger",
    days: Annotated[int, typer.Option("--days", help="How many days to backtest (Basel: 250).")] = 250,
    method: MethodOption = None,
    confidence: ConfidenceOption = None,
    window: WindowOption = None,
    json_output: JsonOption = False,
) -> None:
    """Backtest the VaR: exceptions, Kupiec's POF, Christoffersen's tests and the traffic-light zone.

    Example: quantdesk risk var-backtest --desk --source lake --days 250 --json
    """
    from quantdesk.book import backtest_report

    name = _scope(deployment, desk)
    with _open() as ledger:
        report = backtest_report(ledger, deployment=name, source=source, days=days, method=method,
                                 confidence=confidence, window_days=_days(window))
    if json_output:
        emit(report)
        return
    c = report.christoffersen
    console.print(f"{report.scope} ({report.source}, {report.method}, {report.confidence:.4g}): "
                  f"{report.exceptions} exceptions in {report.observations} days (expected "
                  f"{report.expected_exceptions:.1f}); zone [bold]{report.zone}[/]\n"
                  f"POF LR {report.pof['statistic']:.4f} (p {report.pof['p_value']:.4f}); independence LR "
                  f"{c['independence']['statistic']:.4f} (p {c['independence']['p_value']:.4f}); conditional "
                  f"coverage LR {c['conditional_coverage']['statistic']:.4f} (p "
                  f"{c['conditional_coverage']['p_value']:.4f})", highlight=False)
