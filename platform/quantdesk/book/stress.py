"""Stress tests of the desk's book: built-in crashes replayed from the lake and `[[risk.scenarios]]`.

A historical window (UTC dates, inclusive) is replayed from each series' finest stored bars: the
base is the last close before the window, each bar's cumulative move is its close over the base;
the book's P&L path is the sum of its positions along those moves, all assets moving together as
they did, and the scenario takes the moves at the path's worst point. A perpetual is liquidated
if its price path (its mark series `SYMBOL@mark` where the lake has it, else its trade bars) reached
the liquidation price anywhere in the window. Where the lake does not hold the window the scenario
is reported unavailable with the command that would ingest it. Hypothetical shocks apply per asset
or per group (`all`; `alts`: every asset but BTC and the stablecoins; or the scenario's own
`groups`); a funding shock charges perpetuals; positions on unreachable venues are frozen
(`quantdesk.risk.analytics.stress`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantdesk.book.book import Book, desk_equity, load_book
from quantdesk.book.deployments import deployment_infos
from quantdesk.core.errors import LakeError, RiskError

__all__ = ["ScenarioSpec", "StressReport", "scenario_specs", "stress_book", "stress_report"]

NOT_ALTS = frozenset({"BTC", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "TUSD"})  # an altcoin: anything but bitcoin
BASE_LOOKBACK = timedelta(days=3)  # the base close must lie this close before the window


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSpec:
    """A scenario as configured or built in."""

    name: str
    kind: str  # historical or hypothetical
    description: str = ""
    start: date | None = None
    end: date | None = None
    shocks: dict[str, float] | None = None
    groups: dict[str, list[str]] | None = None
    funding_rate: float = 0.0
    funding_intervals: int = 0
    unreachable_venues: tuple[str, ...] = ()
    builtin: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StressReport:
    """One scenario's outcome for the book (`available` False: the reason is in `detail`)."""

    scenario: str
    kind: str
    description: str
    available: bool
    detail: str
    pnl_quote: float | None = None
    pnl_pct_of_equity: float | None = None
    liquidations: int = 0
    margin_lost_quote: float = 0.0
    frozen_quote: float = 0.0
    worst_at: str | None = None
    positions: tuple[dict[str, Any], ...] = ()


def scenario_specs(settings: Any = None) -> list[ScenarioSpec]:
    """The built-in windows, then `[[risk.scenarios]]` (a configured name replaces a built-in one)."""
    from quantdesk.risk import RiskConfig
    from quantdesk.risk.var_config import BUILTIN_SCENARIOS

    specs = {b.name: ScenarioSpec(name=b.name, kind="historical", description=b.description, start=b.start,
                                  end=b.end, builtin=True) for b in BUILTIN_SCENARIOS}
    for s in RiskConfig.from_settings(settings).scenarios:
        funding = s.funding_intervals if s.funding_rate else 0
        specs[s.name] = ScenarioSpec(
            name=s.name, kind="historical" if s.start is not None else "hypothetical", description=s.description,
            start=s.start, end=s.end, shocks=dict(s.shocks), groups={k: list(v) for k, v in s.groups.items()},
            funding_rate=s.funding_rate, funding_intervals=funding, unreachable_venues=tuple(s.unreachable_venues))
    return list(specs.values())


def _shock_for(asset: str, spec: ScenarioSpec) -> float:
    shocks = spec.shocks or {}
    if asset in shocks:
        return shocks[asset]
    for group, members in (spec.groups or {}).items():
        if asset in members and group in shocks:
            return shocks[group]
    if "alts" in shocks and asset not in NOT_ALTS:
        return shocks["alts"]
    return shocks.get("all", 0.0)


def _window_bars(lake: Any, exchange: str, symbol: str, spec: ScenarioSpec) -> tuple[float, pl.DataFrame]:
    """Return the base close and the bars inside the window, or raise LakeError saying what to ingest."""
    assert spec.start is not None and spec.end is not None
    start = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=UTC)
    end = datetime(spec.end.year, spec.end.month, spec.end.day, tzinfo=UTC) + timedelta(days=1)
    stored = lake.timeframes(symbol, exchange)
    frame = lake.candles(symbol, stored[0], start=start - BASE_LOOKBACK, end=end, exchange=exchange) \
        if stored else pl.DataFrame()
    before = frame.filter(pl.col("ts") < start) if frame.height else frame
    inside = frame.filter(pl.col("ts") >= start) if frame.height else frame
    if not before.height or not inside.height or inside["ts"][-1] < end - timedelta(days=1):
        since = (spec.start - timedelta(days=2)).isoformat()
        raise LakeError(f"{symbol} on {exchange} is not in the lake for {spec.start}..{spec.end}: ingest it first: "
                        f"quantdesk ingest --exchange {exchange} --symbol {symbol} --timeframe 1m --since {since}")
    return float(before["close"][-1]), inside.select("ts", "high", "low", "close")


def _historical_paths(book: Book, lake: Any, spec: ScenarioSpec) -> tuple[dict[str, Any], str]:
    from quantdesk.lake import mark_symbol
    from quantdesk.risk.analytics import ShockPath

    moves: dict[int, pl.DataFrame] = {}
    extremes: dict[int, tuple[float, float]] = {}
    for i, s in enumerate(book.series):
        base, bars = _window_bars(lake, s.exchange, s.symbol, spec)
        moves[i] = bars.select("ts", (pl.col("close") / base - 1.0).alias(f"c{i}"))
        path = bars
        if ":" in s.symbol and lake.timeframes(mark_symbol(s.symbol), s.exchange):
            try:  # liquidations happen on the mark price, as on the exchange and in the futures backtest
                mark_base, path = _window_bars(lake, s.exchange, mark_symbol(s.symbol), spec)
                base = mark_base
            except LakeError:
                path = bars
        extremes[i] = (float(path["low"].min()) / base - 1.0, float(path["high"].max()) / base - 1.0)
    grid = pl.concat([m.select("ts") for m in moves.values()]).unique().sort("ts")
    for m in moves.values():  # every series' move at every bar time: as of its last bar
        grid = grid.join_asof(m.sort("ts"), on="ts", strategy="backward")
    matrix = grid.select([f"c{i}" for i in moves]).fill_null(0.0).to_numpy()
    exposure = np.zeros(len(book.series))
    for x, c in zip(book.exposures, book.column, strict=True):
        exposure[c] += x
    worst = int(np.argmin(matrix @ exposure))
    paths = {f"{s.exchange}:{s.symbol}": ShockPath(move=float(matrix[worst, i]), low=min(extremes[i][0], 0.0),
                                                   high=max(extremes[i][1], 0.0))
             for i, s in enumerate(book.series)}
    return paths, grid["ts"][worst].isoformat()


def stress_book(book: Book, lake: Any, spec: ScenarioSpec, *, equity: float | None = None) -> StressReport:
    """Run one scenario on `book`."""
    from quantdesk.risk.analytics import ShockPath, StressPosition, apply_scenario

    worst_at = None
    if spec.kind == "historical":
        try:
            paths, worst_at = _historical_paths(book, lake, spec)
        except LakeError as e:
            return StressReport(scenario=spec.name, kind=spec.kind, description=spec.description, available=False,
                                detail=str(e))
    else:
        paths = {f"{s.exchange}:{s.symbol}": ShockPath.shock(_shock_for(s.symbol.split("/", 1)[0], spec))
                 for s in book.series}
    prices = book.prices
    positions = [StressPosition(deployment=p.deployment, venue=p.venue, symbol=p.symbol, asset=p.asset,
                                key=f"{book.series[c].exchange}:{book.series[c].symbol}", qty=float(p.qty),
                                price=float(prices[c]), perpetual=p.perpetual, entry=p.entry, margin=p.margin,
                                leverage=p.leverage)
                 for p, c in zip(book.positions, book.column, strict=True)]
    result = apply_scenario(positions, paths, funding_rate=spec.funding_rate,
                            funding_intervals=spec.funding_intervals, unreachable_venues=spec.unreachable_venues)
    rows = tuple({"deployment": o.deployment, "venue": o.venue, "symbol": o.symbol, "qty": o.qty, "price": o.price,
                  "move": o.move, "shocked_price": o.shocked_price, "pnl_quote": o.pnl_quote,
                  "funding_quote": o.funding_quote, "liquidated": o.liquidated,
                  "liquidation_price": o.liquidation_price, "margin_lost_quote": o.margin_lost_quote,
                  "frozen": o.frozen} for o in result.positions)
    window = f"{spec.start}..{spec.end}" if spec.start else "hypothetical shocks"
    return StressReport(scenario=spec.name, kind=spec.kind, description=spec.description, available=True,
                        detail=window, pnl_quote=result.pnl_quote,
                        pnl_pct_of_equity=None if not equity else 100.0 * result.pnl_quote / equity,
                        liquidations=result.liquidations, margin_lost_quote=result.margin_lost_quote,
                        frozen_quote=result.frozen_quote, worst_at=worst_at, positions=rows)


def stress_report(ledger: Any, lake: Any = None, *, scenario: str | None = None, deployment: str | None = None,
                  settings: Any = None) -> list[StressReport]:
    """Run one scenario (or all) on the desk's (or a deployment's) book."""
    from quantdesk.lake import Lake

    specs = scenario_specs(settings)
    if scenario is not None:
        chosen = [s for s in specs if s.name == scenario]
        if not chosen:
            known = ", ".join(s.name for s in specs)
            raise RiskError(f"unknown scenario {scenario!r}; known: {known} (add one under [[risk.scenarios]])")
        specs = chosen
    lake = lake or Lake()
    book = load_book(ledger, lake, deployment=deployment, history_days=5, settings=settings)
    if deployment is None:
        equity = desk_equity(ledger, book, settings)
    else:
        found = deployment_infos(ledger).get(deployment)
        equity = found.equity if found is not None else None
    return [stress_book(book, lake, spec, equity=equity) for spec in specs]
