"""Read research: stored runs with their metrics, and the candle lake's coverage."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from quantdesk.api.auth import Caller, allow, context
from quantdesk.api.context import Cached
from quantdesk.api.errors import ERROR_RESPONSES
from quantdesk.api.models import CoverageOut, Page, RunOut
from quantdesk.api.paging import Cursor, Limit, page_by_key
from quantdesk.api.routes.desk import Filter
from quantdesk.identity.policy import Action

__all__ = ["router"]

router = APIRouter(tags=["research"], responses=ERROR_RESPONSES)
Ctx = Annotated[Any, Depends(context)]
Viewer = Annotated[Caller, allow(Action.VIEW)]
COVERAGE_TTL_S = 15.0  # the coverage scans every series of the lake: at most once per 15 s


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _run(row: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": row["run_id"], "kind": row.get("kind"), "created_at": row.get("created_at"),
            "strategy": row.get("strategy"), "params": json.loads(row.get("params") or "{}"),
            "symbols": [s for s in (row.get("symbols") or "").split(",") if s], "timeframe": row.get("timeframe"),
            "metrics": {k: _finite(v) for k, v in metrics.items() if isinstance(v, int | float | type(None))}}


@router.get("/runs", response_model=Page[RunOut], summary="Stored runs (backtests, sweeps, walk-forwards), newest first")
def runs(_: Viewer, limit: Limit = 50, cursor: Cursor = None,
         kind: Annotated[Literal["backtest", "sweep", "walkforward"] | None, Query()] = None,
         strategy: Filter = None) -> Any:
    from quantdesk.backtest.store import list_runs

    frame = list_runs(kind)
    rows = [r for r in frame.to_dicts() if strategy is None or r["strategy"] == strategy]
    headline = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate")
    page, after = page_by_key("runs", rows, lambda r: f"{r['created_at'] or ''}\x1f{r['run_id']}", limit, cursor,
                              descending=True)
    return {"items": [_run(r, {m: r.get(m) for m in headline}) for r in page], "next_cursor": after}


@router.get("/runs/{run_id}", response_model=RunOut, summary="One run with every metric")
def run(_: Viewer, run_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")]) -> Any:
    from quantdesk.backtest.store import load_run

    stored = load_run(run_id)
    record = stored.record
    snapshot = record.get("snapshot") or {}
    return _run({"run_id": stored.run_id, "kind": record.get("kind"), "created_at": record.get("created_at"),
                 "strategy": record.get("strategy"), "params": json.dumps(record.get("params") or {}),
                 "symbols": ",".join(snapshot.get("symbols") or []), "timeframe": snapshot.get("timeframe")},
                record.get("metrics") or {})


def _coverage(ctx: Any) -> list[dict[str, Any]]:
    if ctx.coverage is None:
        from quantdesk.lake import Lake

        lake = ctx.lake or Lake()
        ctx.coverage = Cached(lambda: lake.coverage().to_dicts(), COVERAGE_TTL_S)
    return ctx.coverage.get()  # type: ignore[no-any-return]


@router.get("/lake/coverage", response_model=Page[CoverageOut],
            summary="Each series in the candle lake: first and last candle, rows, gaps, quarantined rows")
def coverage(_: Viewer, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, exchange: Filter = None,
             symbol: Filter = None, timeframe: Filter = None) -> Any:
    rows = [r for r in _coverage(ctx) if (exchange is None or r["exchange"] == exchange)
            and (symbol is None or r["symbol"] == symbol) and (timeframe is None or r["timeframe"] == timeframe)]
    page, after = page_by_key("coverage", rows, lambda r: f"{r['exchange']}\x1f{r['symbol']}\x1f{r['timeframe']}",
                              limit, cursor)
    return {"items": page, "next_cursor": after}

