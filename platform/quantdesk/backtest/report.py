"""HTML tearsheets of stored runs: metrics, equity, drawdown, monthly returns and trades.

The page is self-contained (Bokeh's JavaScript is inlined), so it opens offline and can be
mailed or archived next to the run.
"""

from __future__ import annotations

import calendar
import html
import math
from pathlib import Path
from typing import Any

import polars as pl

from quantdesk.backtest.store import StoredRun, load_run
from quantdesk.core.settings import get_settings

__all__ = ["monthly_returns", "write_report"]

_PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}


def monthly_returns(equity: pl.DataFrame, initial_cash: float) -> pl.DataFrame:
    """Return one row per year with a column per month (1..12): that month's return."""
    if equity.is_empty():
        return pl.DataFrame({"year": []}, schema={"year": pl.Int32})
    month_end = (
        equity.sort("ts")
        .group_by(pl.col("ts").dt.truncate("1mo").alias("month"), maintain_order=True)
        .agg(pl.col("equity").last())
        .sort("month")
    )
    month_end = month_end.with_columns(
        (pl.col("equity") / pl.col("equity").shift(1).fill_null(initial_cash) - 1.0).alias("ret"),
        pl.col("month").dt.year().alias("year"),
        pl.col("month").dt.month().alias("m"),
    )
    wide = month_end.pivot(on="m", index="year", values="ret", sort_columns=True)
    return wide.select("year", *sorted((c for c in wide.columns if c != "year"), key=int)).sort("year")


def _fmt(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.2%}" if name in _PERCENT else f"{value:,.4f}"
    return html.escape(str(value))


def _heat(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "<td></td>"
    strength = min(abs(value) / 0.2, 1.0)
    color = f"rgba(0,150,0,{strength:.2f})" if value >= 0 else f"rgba(200,0,0,{strength:.2f})"
    return f'<td style="background:{color}">{value:.2%}</td>'


def _table(frame: pl.DataFrame, limit: int = 500) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(limit).iter_rows():
        rows.append("<tr>" + "".join(f"<td>{_fmt('', v)}</td>" for v in row) + "</tr>")
    more = f"<p>… {len(frame) - limit} more rows in the run's trades.parquet</p>" if len(frame) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{more}"


def _plots(equity: pl.DataFrame) -> str:
    from bokeh.embed import components
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    source = ColumnDataSource({"ts": equity["ts"].to_numpy(), "equity": equity["equity"].to_numpy(),
                               "drawdown": equity["drawdown"].to_numpy()})
    top = figure(title="Equity (marked at each close)", x_axis_type="datetime", height=300,
                 sizing_mode="stretch_width")
    top.line("ts", "equity", source=source, line_width=1.5)
    bottom = figure(title="Drawdown", x_axis_type="datetime", height=200, sizing_mode="stretch_width",
                    x_range=top.x_range)
    bottom.varea(x="ts", y1=0.0, y2="drawdown", source=source, fill_color="firebrick", fill_alpha=0.5)
    script, div = components(column(top, bottom, sizing_mode="stretch_width"))
    return script + div


def _page(run: StoredRun) -> str:
    from bokeh.resources import INLINE

    rec = run.record
    equity = run.table("equity")
    trades = run.table("trades")
    snap = rec.get("snapshot", {})
    metrics_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_fmt(k, v)}</td></tr>" for k, v in rec["metrics"].items()
    )
    monthly = monthly_returns(equity, float(rec["initial_cash"]))
    month_head = "<tr><th>year</th>" + "".join(
        f"<th>{calendar.month_abbr[int(c)]}</th>" for c in monthly.columns[1:]
    ) + "</tr>"
    month_rows = "".join(
        f"<tr><th>{row[0]}</th>{''.join(_heat(v) for v in row[1:])}</tr>" for row in monthly.iter_rows()
    )
    look = rec.get("lookahead")
    verdict = "not checked" if not look else ("passed" if look["passed"] else f"FAILED: {look['detail']}")
    title = f"{rec['strategy']} {rec['params']} — run {rec['run_id']}"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{INLINE.render()}
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right;font-size:13px}}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Data: {html.escape(str(snap.get('exchange') or snap.get('source')))} {html.escape(', '.join(snap.get('symbols', [])))}
{html.escape(str(snap.get('timeframe')))} from {html.escape(str(snap.get('first_ts')))} to {html.escape(str(snap.get('last_ts')))}
({snap.get('bars')} bars, checksum {html.escape(str(snap.get('checksum', ''))[:12])}).
Costs: {html.escape(str(rec.get('cost')))}; initial cash {rec['initial_cash']:,.2f}; code hash {html.escape(rec['code_hash'][:12])};
lookahead check: {html.escape(verdict)}.</p>
<h2>Metrics</h2><table>{metrics_rows}</table>
<h2>Equity and drawdown</h2>{_plots(equity)}
<h2>Monthly returns</h2><table>{month_head}{month_rows}</table>
<h2>Trades ({len(trades)})</h2>{_table(trades)}
{_ml_section(run)}
</body></html>"""


def _ml_section(run: StoredRun) -> str:
    """An ML run's pinned model and its features' out-of-sample permutation importances."""
    ml = (run.record.get("extra") or {}).get("ml")
    if not ml or "ml_importance" not in run.tables():
        return ""
    window = ml.get("training_window") or {}
    return (f"<h2>Model</h2><p>{html.escape(str(ml.get('model')))}: {ml.get('retrains')} retrains every "
            f"{ml.get('retrain_every')} bars; last artifact {html.escape(str(ml.get('artifact'))[:12])} trained on "
            f"{html.escape(str(window.get('first_sample_ts')))} to {html.escape(str(window.get('last_sample_ts')))}.</p>"
            "<h2>Feature importance (permutation, out of sample)</h2>" + _table(run.table("ml_importance")))


def write_report(run_id: str, *, out_dir: Path | None = None) -> Path:
    """Write the HTML tearsheet of stored run `run_id` and return its path (reports_dir/<run_id>.html)."""
    run = load_run(run_id)
    out_dir = out_dir or get_settings().reports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{run_id}.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(_page(run), encoding="utf-8")
    tmp.replace(path)
    return path
